//! Process hardening done first thing in `main`: no core dumps (a dump would
//! hold every token in memory), and a panic hook that never prints the panic
//! message (a message built from a value could quote a secret).

/// Disables core dumps and installs the panic hook.
pub fn harden_process() {
    no_core_dumps();
    std::panic::set_hook(Box::new(|info| {
        let at = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        report(&format!(
            "error: cargo-credential-corp hit an internal error{at} (the message is not shown, \
             as it could contain a secret); please report it"
        ));
    }));
}

#[allow(clippy::print_stderr)]
fn report(message: &str) {
    eprintln!("{message}");
}

#[cfg(unix)]
fn no_core_dumps() {
    use rustix::process::{Resource, Rlimit, setrlimit};
    // Best effort: a failure leaves the system's setting in place.
    let _ = setrlimit(
        Resource::Core,
        Rlimit {
            current: Some(0),
            maximum: Some(0),
        },
    );
    #[cfg(target_os = "linux")]
    {
        // Not dumpable: no core file even when the limit is raised by a
        // privileged helper, and no ptrace attach by other processes of
        // this user.
        let _ =
            rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable);
    }
}

#[cfg(not(unix))]
fn no_core_dumps() {}
