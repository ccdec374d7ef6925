//! Lists the host's namespaces like `lsns(8)`: a table, then a tree by owner.
//!
//! ```text
//! cargo run -p nscore --example ns_list                  # table, then tree
//! cargo run -p nscore --example ns_list -- --kind net    # only network namespaces
//! cargo run -p nscore --example ns_list -- --tree        # only the tree
//! cargo run -p nscore --example ns_list -- --tree=parent # tree by parent (user, pid)
//! ```

use std::process::ExitCode;

use nscore::inspect::list::{list_kinds, HeldBy, NsEntry, NsList, TreeBy, TreeNode};
use nscore::{Kind, KindSet};

fn user_name(uid: Option<u32>) -> String {
    match uid {
        None => "-".to_string(),
        Some(uid) => match nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid)) {
            Ok(Some(u)) => u.name,
            _ => uid.to_string(),
        },
    }
}

fn command(e: &NsEntry) -> String {
    let held: Vec<String> = e
        .held_by()
        .into_iter()
        .filter_map(|h| match h {
            HeldBy::Processes => None,
            HeldBy::BindMount(p) => Some(format!("(bind mount {})", p.display())),
            HeldBy::Reference => Some("(no process: held as owner/parent or by an fd)".to_string()),
        })
        .collect();
    match (&e.command, held.is_empty()) {
        (Some(c), true) => c.clone(),
        (Some(c), false) => format!("{c} {}", held.join(" ")),
        (None, _) => held.join(" "),
    }
}

fn print_table(all: &NsList) {
    println!(
        "{:>10} {:<6} {:>6} {:>7} {:<10} COMMAND",
        "NS", "TYPE", "NPROCS", "PID", "USER"
    );
    for e in all.iter() {
        let pid = e.pid().map_or("-".to_string(), |p| p.to_string());
        println!(
            "{:>10} {:<6} {:>6} {:>7} {:<10} {}",
            e.inode.ino,
            e.kind.name(),
            e.nprocs(),
            pid,
            user_name(e.uid),
            command(e)
        );
    }
}

fn print_node(node: &TreeNode<'_>, prefix: &str, last: bool, top: bool) {
    let e = node.entry;
    let branch = if top {
        ""
    } else if last {
        "└─"
    } else {
        "├─"
    };
    let extra = match e.ns_id {
        Some(id) => format!(" id={id}"),
        None => String::new(),
    };
    println!(
        "{prefix}{branch}{}:[{}] nprocs={}{extra} {}",
        e.kind.name(),
        e.inode.ino,
        e.nprocs(),
        command(e)
    );
    let child_prefix = if top {
        prefix.to_string()
    } else if last {
        format!("{prefix}  ")
    } else {
        format!("{prefix}│ ")
    };
    for (i, c) in node.children.iter().enumerate() {
        print_node(c, &child_prefix, i + 1 == node.children.len(), false);
    }
}

fn main() -> ExitCode {
    let mut kinds = KindSet::ALL;
    let mut table = true;
    let mut tree = Some(TreeBy::Owner);
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--tree" | "--tree=owner" => {
                table = false;
                tree = Some(TreeBy::Owner);
            }
            "--tree=parent" => {
                table = false;
                tree = Some(TreeBy::Parent);
            }
            "--table" => tree = None,
            "--kind" | "-t" => match args.next().map(|k| k.parse::<KindSet>()) {
                Some(Ok(k)) => kinds = k,
                Some(Err(e)) => {
                    eprintln!("ns_list: {e}");
                    return ExitCode::from(2);
                }
                None => {
                    eprintln!("ns_list: --kind needs a value (net, uts, user,pid, ...)");
                    return ExitCode::from(2);
                }
            },
            "-h" | "--help" => {
                println!("usage: ns_list [--kind KINDS] [--tree[=owner|parent] | --table]");
                return ExitCode::SUCCESS;
            }
            other => {
                eprintln!("ns_list: unknown argument {other:?} (try --help)");
                return ExitCode::from(2);
            }
        }
    }
    // The tree by owner needs the user namespaces to hang the others on.
    let wanted = kinds;
    let scan = if tree == Some(TreeBy::Owner) {
        kinds.with(Kind::User)
    } else {
        kinds
    };
    let all = match list_kinds(scan) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("ns_list: {e}");
            return ExitCode::FAILURE;
        }
    };
    if table {
        let only: NsList = all.filtered(wanted);
        print_table(&only);
        println!(
            "{} namespaces ({})",
            only.len(),
            if all.used_listns() {
                "listns(2) and /proc"
            } else {
                "scanned /proc and mountinfo; listns(2) not available"
            }
        );
    }
    if let Some(by) = tree {
        if table {
            println!();
        }
        println!("tree by {}:", if by == TreeBy::Owner { "owner" } else { "parent" });
        for root in all.tree(by) {
            print_node(&root, "", true, true);
        }
    }
    ExitCode::SUCCESS
}
