//! The way out of the chip: text to the host and an exit status, through ARM semihosting when
//! QEMU runs the firmware. On RISC-V, where these images are built and measured but not run,
//! printing does nothing and exiting stops the core.

/// Prints `text` on the host's standard output.
pub fn print(text: &[u8]) {
    #[cfg(target_arch = "arm")]
    if let Ok(mut stdout) = cortex_m_semihosting::hio::hstdout() {
        // Nothing to do if the host cannot take it: the exit status still tells.
        let _ = stdout.write_all(text);
    }
    #[cfg(not(target_arch = "arm"))]
    let _ = text;
}

/// Ends the program: QEMU exits with status 0 when `success`, 1 otherwise.
pub fn exit(success: bool) -> ! {
    #[cfg(target_arch = "arm")]
    {
        use cortex_m_semihosting::debug;
        debug::exit(if success {
            debug::EXIT_SUCCESS
        } else {
            debug::EXIT_FAILURE
        });
    }
    #[cfg(not(target_arch = "arm"))]
    let _ = success;
    // Only reached without a host to exit to.
    loop {
        core::hint::spin_loop();
    }
}

/// Ends the program with a verdict: `what` and "ok", or `what`, "FAILED: " and the reason.
pub fn finish(what: &[u8], verdict: Result<(), &[u8]>) -> ! {
    print(what);
    match verdict {
        Ok(()) => {
            print(b": ok\n");
            exit(true)
        }
        Err(why) => {
            print(b": FAILED: ");
            print(why);
            print(b"\n");
            exit(false)
        }
    }
}
