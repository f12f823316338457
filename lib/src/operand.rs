//! Operand lists in which `-` stands for standard input, as in
//! `natctl list | natctl del -` or `… | vethdown -`: each line of stdin
//! gives one value, its first word, so a tool's listing can be fed back;
//! blank lines and `#` comments are skipped.

use crate::error::Error;
use std::io::BufRead;
use std::str::FromStr;

/// One operand: a value, or `-` for the values on stdin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operand<T> {
    Value(T),
    Stdin,
}

impl<T: FromStr<Err = Error>> FromStr for Operand<T> {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self, Error> {
        if text == "-" {
            Ok(Operand::Stdin)
        } else {
            text.parse().map(Operand::Value)
        }
    }
}

/// The values the operands name, in order, `-` replaced by the values read
/// from `stdin` (which may be named once).
pub fn expand<T>(operands: &[Operand<T>], stdin: impl BufRead) -> Result<Vec<T>, Error>
where
    T: FromStr<Err = Error> + Clone,
{
    let mut values = Vec::new();
    let mut stdin = Some(stdin);
    for operand in operands {
        match operand {
            Operand::Value(v) => values.push(v.clone()),
            Operand::Stdin => {
                let Some(input) = stdin.take() else {
                    return Err(Error::usage("'-' (stdin) may be given only once"));
                };
                for (n, line) in input.lines().enumerate() {
                    let line = line.map_err(|e| Error::io("cannot read stdin", &e))?;
                    let Some(word) = line.split_whitespace().next() else {
                        continue;
                    };
                    if word.starts_with('#') {
                        continue;
                    }
                    let value = word
                        .parse()
                        .map_err(|e: Error| e.context(format!("stdin line {}", n + 1)))?;
                    values.push(value);
                }
            }
        }
    }
    Ok(values)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cidr::Subnet;
    use crate::name::IfName;

    fn subnet(text: &str) -> Subnet {
        text.parse().unwrap()
    }

    #[test]
    fn values_come_from_operands_and_stdin() {
        let args = [
            Operand::Value(subnet("10.0.0.0/24")),
            "-".parse::<Operand<Subnet>>().unwrap(),
        ];
        let stdin = "10.0.1.0/24 masquerade out=any backend=nft\n\n# comment\n  fd00:10::/64\n";
        assert_eq!(
            expand(&args, stdin.as_bytes()).unwrap(),
            [
                subnet("10.0.0.0/24"),
                subnet("10.0.1.0/24"),
                subnet("fd00:10::/64")
            ]
        );
    }

    #[test]
    fn a_bad_line_is_a_usage_error_naming_the_line() {
        let args = [Operand::<Subnet>::Stdin];
        let e = expand(&args, "10.0.0.0/24\n10.0.0.1/24\n".as_bytes()).unwrap_err();
        assert_eq!(e.kind(), crate::Kind::Usage);
        assert_eq!(
            e.to_string(),
            "stdin line 2: invalid subnet '10.0.0.1/24': host bits are set (did you mean 10.0.0.0/24?)"
        );
        let e = expand(&[Operand::<IfName>::Stdin], "ok\nbad/name\n".as_bytes()).unwrap_err();
        assert!(e
            .to_string()
            .starts_with("stdin line 2: invalid interface name"));
    }

    #[test]
    fn stdin_is_read_once() {
        let twice = [Operand::<IfName>::Stdin, Operand::Stdin];
        assert!(expand(&twice, "".as_bytes()).is_err());
        assert!("a/b".parse::<Operand<IfName>>().is_err());
    }
}
