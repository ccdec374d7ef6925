//! The matrix report over the kernels `scripts/kernels.sh` ran:
//!
//! ```text
//! nsmatrix DIR NAME...
//! ```
//!
//! reads `DIR/<NAME>/` for each kernel (see [`nsmatrix::matrix`]), writes each kernel's
//! `results.ktap` and `junit.xml` there, `DIR/matrix.md` and `DIR/matrix.svg`, and prints the
//! tables. Exit code 0 when every run went through and no test failed, 1 otherwise, 2 on bad
//! usage.

use std::path::Path;
use std::process::ExitCode;

use nsmatrix::{formats, matrix};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 2 || args[0].starts_with('-') {
        eprintln!("usage: nsmatrix DIR NAME...   (the per-kernel directories DIR/NAME of scripts/kernels.sh)");
        return ExitCode::from(2);
    }
    let dir = Path::new(&args[0]);
    let mut runs = Vec::new();
    for name in &args[1..] {
        let d = dir.join(name);
        if !d.is_dir() {
            eprintln!("nsmatrix: no results for {name} ({} missing)", d.display());
            return ExitCode::from(2);
        }
        match matrix::load(&d) {
            Ok(r) => runs.push(r),
            Err(e) => {
                eprintln!("nsmatrix: cannot read {}: {e}", d.display());
                return ExitCode::from(2);
            }
        }
    }
    let mut ok = true;
    for r in &runs {
        let d = dir.join(&r.name);
        let label = format!("{} {}", r.name, r.release);
        let written = std::fs::write(d.join("results.ktap"), formats::ktap(&label, &r.tests))
            .and_then(|_| std::fs::write(d.join("junit.xml"), formats::junit(&r.name, &r.tests)));
        if let Err(e) = written {
            eprintln!("nsmatrix: cannot write into {}: {e}", d.display());
            ok = false;
        }
        ok &= r.ok();
    }
    let md = dir.join("matrix.md");
    let svg = dir.join("matrix.svg");
    if let Err(e) = std::fs::write(&md, matrix::markdown(&runs)).and_then(|_| std::fs::write(&svg, matrix::svg(&runs)))
    {
        eprintln!("nsmatrix: cannot write {}: {e}", md.display());
        ok = false;
    }
    print!("{}", matrix::terminal(&runs));
    println!(
        "\nper kernel: {}/<kernel>/results.ktap, junit.xml; matrix: {}, {}",
        dir.display(),
        md.display(),
        svg.display()
    );
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
