//! Prints which namespace APIs the running kernel has ([`nsmatrix::probe`]), one
//! `feature<TAB>name<TAB>yes|no<TAB>since<TAB>detail` line each.

fn main() {
    print!("{}", nsmatrix::probe::render(&nsmatrix::probe::probe()));
}
