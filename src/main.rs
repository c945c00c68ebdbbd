//! The `chatls` binary: parses the command line and hands over to `chatls::cli`.

fn main() {
    println!("chatls");
}
