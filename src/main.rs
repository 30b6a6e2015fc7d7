//! `rekon`: a thin shell over the library; see `rekon --help`.

use std::process::ExitCode;

fn main() -> ExitCode {
    ExitCode::from(rekon::cli::main())
}
