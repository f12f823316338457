//! nf_tables over netlink, in-process: the reads natctl needs before it
//! changes anything (one element, one set, one table's rules, iptables-nft's
//! tables), and the element changes themselves, as one atomic batch.
//! Nothing here starts a program.
//!
//! Why in-process: `nft` 1.0.6 reads every element of every interval set
//! on the host before it applies even one `add element`, so its cost grows
//! with the subnets and ports already there; a batch sent from here costs
//! the same with none or thousands. The messages are the crate
//! `netlink-packet-netfilter`'s (rust-netlink, like our rtnetlink crates);
//! this module only frames requests, collects answers (a set's elements
//! one at a time, a rule's expressions lean, see `elements_message` and
//! `rule_message`) and maps errors.

use super::Family;
use crate::error::Error;
use netlink_packet_core::{
    DecodeError, DefaultNla, NetlinkBuffer, NetlinkHeader, NetlinkMessage, NetlinkPayload,
    NlaBuffer, NlasIterator, Parseable, ParseableParametrized, NLA_TYPE_MASK, NLM_F_ACK,
    NLM_F_DUMP, NLM_F_DUMP_INTR, NLM_F_REQUEST,
};
use netlink_packet_netfilter::nftables::{
    ExpressionAttribute, Expressions, ListAttribute, NfTablesMessage, RuleAttribute, RuleMessage,
    SetElementList, SetElementMessage,
};
use netlink_packet_netfilter::none::ControlMessage;
use netlink_packet_netfilter::{NetfilterHeader, NetfilterMessage, NetfilterProtoFamily};
use netlink_sys::{protocols::NETLINK_NETFILTER, Socket, SocketAddr};
use nix::errno::Errno;
use std::ops::ControlFlow;

/// `NFNL_SUBSYS_NFTABLES`: the batch markers name the subsystem they open.
const NFTABLES: u16 = 10;
/// Datagrams of a dump are at most 32 KiB; this never truncates one.
const BUFFER: usize = 64 * 1024;
/// A dump the kernel marks as interrupted by a concurrent change is read
/// again, up to this many times.
const DUMP_TRIES: usize = 8;
/// The user data type of a comment, for elements and rules alike
/// (`NFTNL_UDATA_SET_ELEM_COMMENT`, `NFTNL_UDATA_RULE_COMMENT`).
pub const UDATA_COMMENT: u8 = 0;

fn proto(family: Family) -> NetfilterProtoFamily {
    match family {
        Family::V4 => NetfilterProtoFamily::IPv4,
        Family::V6 => NetfilterProtoFamily::IPv6,
    }
}

/// One request of a batch: what it does (for errors) and the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub family: Family,
    pub message: NfTablesMessage,
    /// `NLM_F_CREATE` and the like, beside REQUEST and ACK.
    pub flags: u16,
}

/// A failed batch: which request the kernel refused, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refused {
    pub index: usize,
    pub errno: Errno,
}

/// An open nf_tables netlink socket.
#[derive(Debug)]
pub struct Nl {
    socket: Socket,
    seq: u32,
}

fn cannot(what: &str, e: std::io::Error) -> Error {
    Error::io(format!("cannot {what}"), &e)
}

impl Nl {
    pub fn open() -> Result<Nl, Error> {
        let what = "open a netlink socket to nf_tables";
        let mut socket = Socket::new(NETLINK_NETFILTER).map_err(|e| cannot(what, e))?;
        socket.bind_auto().map_err(|e| cannot(what, e))?;
        // Acknowledgements without a copy of each request: a batch of many
        // elements would otherwise overflow the receive buffer.
        socket.set_cap_ack(true).map_err(|e| cannot(what, e))?;
        socket
            .connect(&SocketAddr::new(0, 0))
            .map_err(|e| cannot(what, e))?;
        Ok(Nl { socket, seq: 0 })
    }

    fn message(&mut self, inner: NetfilterMessage, flags: u16) -> Vec<u8> {
        self.seq += 1;
        let mut header = NetlinkHeader::default();
        header.flags = flags;
        header.sequence_number = self.seq;
        let mut msg = NetlinkMessage::new(header, NetlinkPayload::InnerMessage(inner));
        msg.finalize();
        let mut buf = vec![0; msg.buffer_len()];
        msg.serialize(&mut buf);
        buf
    }

    fn nft(&mut self, family: Family, message: NfTablesMessage, flags: u16) -> Vec<u8> {
        let p = proto(family);
        self.message(
            NetfilterMessage::new(NetfilterHeader::new(p, 0, 0), message),
            flags,
        )
    }

    fn send(&self, buf: &[u8], what: &str) -> Result<(), Error> {
        self.socket
            .send(buf, 0)
            .map(|_| ())
            .map_err(|e| cannot(what, e))
    }

    /// Every message of the next datagram.
    fn receive(&self, what: &str) -> Result<Vec<NetlinkMessage<NetfilterMessage>>, Error> {
        let mut buf = Vec::with_capacity(BUFFER);
        let n = self.socket.recv(&mut buf, 0).map_err(|e| cannot(what, e))?;
        parse(&buf[..n]).map_err(|why| Error::failed(format!("cannot {what}: {why}")))
    }

    /// One get: the answer, or `None` when the kernel has no such object
    /// (ENOENT: no such table, set, chain or element).
    pub fn get(
        &mut self,
        family: Family,
        message: NfTablesMessage,
        what: &str,
    ) -> Result<Option<NfTablesMessage>, Error> {
        let buf = self.nft(family, message, NLM_F_REQUEST | NLM_F_ACK);
        let seq = self.seq;
        self.send(&buf, what)?;
        let mut found = None;
        loop {
            for msg in self.receive(what)? {
                if msg.header.sequence_number != seq {
                    continue;
                }
                match msg.payload {
                    NetlinkPayload::InnerMessage(m) => found = nftables(m),
                    NetlinkPayload::Error(e) => {
                        return match e.code {
                            None => Ok(found),
                            Some(code) if -code.get() == Errno::ENOENT as i32 => Ok(None),
                            Some(code) => Err(Error::os(
                                format!("cannot {what}"),
                                Errno::from_raw(-code.get()),
                            )),
                        }
                    }
                    NetlinkPayload::Done(_) => return Ok(found),
                    _ => {}
                }
            }
        }
    }

    /// One dump: every answer, none when the table or set it names does
    /// not exist. Read again when a concurrent change interrupted it.
    pub fn dump(
        &mut self,
        family: Family,
        message: NfTablesMessage,
        what: &str,
    ) -> Result<Vec<NfTablesMessage>, Error> {
        for _ in 0..DUMP_TRIES {
            let mut all = Vec::new();
            let dumped = self.dump_once(family, message.clone(), what, |m| {
                all.push(m);
                ControlFlow::Continue(())
            })?;
            match dumped {
                Dumped::Complete => return Ok(all),
                Dumped::Interrupted => continue,
                Dumped::Stopped => unreachable!("nothing stops this dump"),
            }
        }
        Err(Error::failed(format!(
            "cannot {what}: the rules kept changing while natctl read them"
        )))
    }

    /// One dump, each answer handed to `visit` as it is read, so that a
    /// long one is never held whole; whether it was whole (`false`: a
    /// concurrent change interrupted it, what was visited may mix the rule
    /// sets before and after, and the caller reads again).
    pub fn each(
        &mut self,
        family: Family,
        message: NfTablesMessage,
        what: &str,
        mut visit: impl FnMut(NfTablesMessage),
    ) -> Result<bool, Error> {
        let dumped = self.dump_once(family, message, what, |m| {
            visit(m);
            ControlFlow::Continue(())
        })?;
        Ok(matches!(dumped, Dumped::Complete))
    }

    /// Whether a dump holds an answer for which `wanted` is true. Reading
    /// stops at the first one, so the cost does not grow with what follows
    /// it; the rest of the dump is dropped with the socket.
    pub fn any(
        family: Family,
        message: NfTablesMessage,
        what: &str,
        wanted: impl FnMut(&NfTablesMessage) -> bool,
    ) -> Result<bool, Error> {
        let mut wanted = wanted;
        for _ in 0..DUMP_TRIES {
            // A socket of its own: a dump left half read would answer the
            // next request on a shared one.
            let mut nl = Nl::open()?;
            let dumped = nl.dump_once(family, message.clone(), what, |m| {
                if wanted(&m) {
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                }
            })?;
            match dumped {
                Dumped::Stopped => return Ok(true),
                Dumped::Complete => return Ok(false),
                Dumped::Interrupted => continue,
            }
        }
        Err(Error::failed(format!(
            "cannot {what}: the rules kept changing while natctl read them"
        )))
    }

    fn dump_once(
        &mut self,
        family: Family,
        message: NfTablesMessage,
        what: &str,
        mut visit: impl FnMut(NfTablesMessage) -> ControlFlow<()>,
    ) -> Result<Dumped, Error> {
        let buf = self.nft(family, message, NLM_F_REQUEST | NLM_F_DUMP);
        let seq = self.seq;
        self.send(&buf, what)?;
        let mut interrupted = false;
        loop {
            for msg in self.receive(what)? {
                if msg.header.sequence_number != seq {
                    continue;
                }
                interrupted |= msg.header.flags & NLM_F_DUMP_INTR != 0;
                match msg.payload {
                    NetlinkPayload::InnerMessage(m) => {
                        if let Some(m) = nftables(m) {
                            if visit(m).is_break() {
                                return Ok(Dumped::Stopped);
                            }
                        }
                    }
                    NetlinkPayload::Done(_) => {
                        return Ok(if interrupted {
                            Dumped::Interrupted
                        } else {
                            Dumped::Complete
                        })
                    }
                    NetlinkPayload::Error(e) => {
                        return match e.code {
                            None => Ok(Dumped::Complete),
                            // No such table or set: nothing to visit.
                            Some(code) if -code.get() == Errno::ENOENT as i32 => {
                                Ok(Dumped::Complete)
                            }
                            Some(code) => Err(Error::os(
                                format!("cannot {what}"),
                                Errno::from_raw(-code.get()),
                            )),
                        };
                    }
                    _ => {}
                }
            }
        }
    }

    /// Sends the requests as one batch, which the kernel applies whole or
    /// not at all; a refusal names the request and the kernel's reason.
    pub fn batch(&mut self, requests: &[Request], what: &str) -> Result<(), Refused> {
        let fail = |errno| Refused {
            index: usize::MAX,
            errno,
        };
        let mut buf = self.control(ControlMessage::BatchBegin);
        let first = self.seq + 1;
        for r in requests {
            buf.extend(self.nft(
                r.family,
                r.message.clone(),
                NLM_F_REQUEST | NLM_F_ACK | r.flags,
            ));
        }
        buf.extend(self.control(ControlMessage::BatchEnd));
        let io_errno = |e: std::io::Error| {
            fail(Errno::from_raw(
                e.raw_os_error().unwrap_or(Errno::EIO as i32),
            ))
        };
        self.socket.send(&buf, 0).map_err(io_errno)?;
        // The kernel applies a batch while it is being sent, so every
        // answer (one per request, refusals included) is queued already.
        let mut acked = 0;
        let mut refused: Option<Refused> = None;
        while self.pending() {
            let msgs = self
                .receive(what)
                .map_err(|e| fail(e.errno().unwrap_or(Errno::EIO)))?;
            for msg in msgs {
                if let NetlinkPayload::Error(e) = msg.payload {
                    acked += 1;
                    if let Some(code) = e.code {
                        let index = msg.header.sequence_number.wrapping_sub(first) as usize;
                        let errno = Errno::from_raw(-code.get());
                        // The first refusal is the cause; later ones follow from it.
                        if refused.map_or(true, |r| index < r.index) {
                            refused = Some(Refused { index, errno });
                        }
                    }
                }
            }
        }
        match refused {
            Some(r) => Err(r),
            None if acked < requests.len() => Err(fail(Errno::EIO)),
            None => Ok(()),
        }
    }

    fn control(&mut self, message: ControlMessage) -> Vec<u8> {
        let p = NetfilterProtoFamily::Unspec;
        self.message(
            NetfilterMessage::new(NetfilterHeader::new(p, 0, NFTABLES), message),
            NLM_F_REQUEST,
        )
    }

    /// Whether another answer is waiting on the socket.
    fn pending(&self) -> bool {
        use std::os::fd::AsFd;
        let mut fds = [nix::poll::PollFd::new(
            self.socket.as_fd(),
            nix::poll::PollFlags::POLLIN,
        )];
        nix::poll::poll(&mut fds, nix::poll::PollTimeout::ZERO).is_ok_and(|n| n > 0)
    }
}

enum Dumped {
    Complete,
    Stopped,
    Interrupted,
}

fn nftables(m: NetfilterMessage) -> Option<NfTablesMessage> {
    match m.inner {
        netlink_packet_netfilter::NetfilterMessageInner::NfTables(m) => Some(m),
        _ => None,
    }
}

/// The netlink messages of one datagram.
pub(super) fn parse(mut data: &[u8]) -> Result<Vec<NetlinkMessage<NetfilterMessage>>, String> {
    let mut out = Vec::new();
    while !data.is_empty() {
        let buffer = NetlinkBuffer::new_checked(data).map_err(|e| e.to_string())?;
        let len = buffer.length() as usize;
        let message = &data[..len.min(data.len())];
        let msg = match buffer.message_type() {
            NEW_SET_ELEMENT => elements_message(message),
            NEW_RULE => rule_message(message),
            _ => NetlinkMessage::<NetfilterMessage>::deserialize(message),
        }
        .map_err(|e| format!("unreadable answer from the kernel ({e})"))?;
        out.push(msg);
        let aligned = (len + 3) & !3;
        data = &data[aligned.min(data.len())..];
    }
    Ok(out)
}

/// `NFT_MSG_NEWSETELEM`: the message type of a set's elements.
const NEW_SET_ELEMENT: u16 = (NFTABLES << 8) | 12;
/// `NFTA_SET_ELEM_LIST_ELEMENTS`: the attribute that lists them.
const ELEMENTS: u16 = 3;
/// `NFT_MSG_NEWRULE`: the message type of a rule.
const NEW_RULE: u16 = (NFTABLES << 8) | 6;
/// `NFTA_RULE_EXPRESSIONS`, `NFTA_LIST_ELEM`, `NFTA_EXPR_DATA`: a rule's
/// expressions, each one of them, and an expression's data.
const RULE_EXPRESSIONS: u16 = 4;
const LIST_ELEMENT: u16 = 1;
const EXPRESSION_DATA: u16 = 2;
/// The `nfgenmsg` header before a netfilter message's attributes.
const NFGENMSG_LEN: usize = 4;

/// A message of set elements, read with the crate's own parsers one
/// element at a time. Its parser of the whole list (0.4.0) formats the
/// list into an error context for every element it reads, error or not,
/// and a dump packs hundreds of elements into one message: reading a set
/// of owners or ports would cost the square of its size.
fn elements_message(message: &[u8]) -> Result<NetlinkMessage<NetfilterMessage>, DecodeError> {
    read_message(
        message,
        |nla| {
            Ok(if nla.kind() & NLA_TYPE_MASK == ELEMENTS {
                SetElementList::Elements(each_nla(nla.value(), ListAttribute::parse)?)
            } else {
                SetElementList::parse(nla)?
            })
        },
        |attributes| NfTablesMessage::NewSetElement(SetElementMessage { attributes }),
    )
}

/// A rule, its expressions read one at a time and, but for an
/// immediate's (a verdict), their data left as the kernel's attributes.
/// The crate's parsers (0.4.0) format the bytes they read into an error
/// context, error or not: the whole list once per expression, and each
/// expression's data once per attribute (an xt match's info is hundreds of
/// bytes). A dump of iptables-nft's tables holds thousands of rules, and
/// nothing here needs a payload, a comparison or a match typed.
fn rule_message(message: &[u8]) -> Result<NetlinkMessage<NetfilterMessage>, DecodeError> {
    read_message(
        message,
        |nla| {
            Ok(if nla.kind() & NLA_TYPE_MASK == RULE_EXPRESSIONS {
                RuleAttribute::Expressions(each_nla(nla.value(), expression)?)
            } else {
                RuleAttribute::parse(nla)?
            })
        },
        |attributes| NfTablesMessage::NewRule(RuleMessage { attributes }),
    )
}

/// One expression of a rule (see `rule_message`).
fn expression(
    element: &NlaBuffer<&[u8]>,
) -> Result<ListAttribute<ExpressionAttribute>, DecodeError> {
    if element.kind() & NLA_TYPE_MASK != LIST_ELEMENT {
        return Ok(ListAttribute::Other(DefaultNla::parse(element)?));
    }
    let mut attributes = Vec::new();
    let mut name: Option<String> = None;
    for nla in NlasIterator::new(element.value()) {
        let nla = nla?;
        let kind = nla.kind() & NLA_TYPE_MASK;
        let attribute = match &name {
            Some(n) if kind == EXPRESSION_DATA && n != "immediate" => {
                ExpressionAttribute::Data(Expressions::Other {
                    expression_type: n.clone(),
                    attributes: each_nla(nla.value(), DefaultNla::parse)?,
                })
            }
            _ => ExpressionAttribute::parse_with_param(&nla, name.clone())?,
        };
        if let ExpressionAttribute::Name(n) = &attribute {
            name = Some(n.clone());
        }
        attributes.push(attribute);
    }
    Ok(ListAttribute::Element(attributes))
}

/// A netfilter message read one attribute at a time with `attribute`.
fn read_message<A>(
    message: &[u8],
    attribute: impl Fn(&NlaBuffer<&[u8]>) -> Result<A, DecodeError>,
    inner: impl FnOnce(Vec<A>) -> NfTablesMessage,
) -> Result<NetlinkMessage<NetfilterMessage>, DecodeError> {
    let buffer = NetlinkBuffer::new_checked(message)?;
    let header = NetlinkHeader::parse(&buffer)?;
    let payload = buffer.payload();
    let netfilter = NetfilterHeader::parse(payload)?;
    let attributes = each_nla(payload.get(NFGENMSG_LEN..).unwrap_or_default(), attribute)?;
    Ok(NetlinkMessage::new(
        header,
        NetlinkPayload::InnerMessage(NetfilterMessage::new(netfilter, inner(attributes))),
    ))
}

/// Every attribute in `bytes`, each read with `read`.
fn each_nla<'a, T>(
    bytes: &'a [u8],
    read: impl Fn(&NlaBuffer<&'a [u8]>) -> Result<T, DecodeError>,
) -> Result<Vec<T>, DecodeError> {
    NlasIterator::new(bytes).map(|nla| read(&nla?)).collect()
}

/// The comment in an element's or a rule's user data (nftnl's TLVs).
pub fn comment(udata: &[u8]) -> Option<String> {
    let mut rest = udata;
    while rest.len() >= 2 {
        let (kind, len) = (rest[0], rest[1] as usize);
        let value = rest.get(2..2 + len)?;
        if kind == UDATA_COMMENT {
            return Some(c_text(value));
        }
        rest = &rest[2 + len..];
    }
    None
}

/// A C string's text: its bytes up to the first NUL.
pub fn c_text(bytes: &[u8]) -> String {
    let text = bytes.split(|b| *b == 0).next().unwrap_or_default();
    String::from_utf8_lossy(text).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use netlink_packet_core::{DefaultNla, NLM_F_MULTIPART};
    use netlink_packet_netfilter::nftables::{DataAttribute, SetElementAttribute};

    /// A dump's message of `n` elements, as the kernel sends them.
    fn dumped(n: u16) -> Vec<u8> {
        let elements = (0..n)
            .map(|i| {
                let [high, low] = i.to_be_bytes();
                ListAttribute::Element(vec![
                    SetElementAttribute::Key(DataAttribute::Value(vec![10, 0, high, low])),
                    SetElementAttribute::KeyEnd(vec![DefaultNla::new(1, vec![10, 0, high, low])]),
                    SetElementAttribute::Data(DataAttribute::Value(vec![0, 0, high, low])),
                    SetElementAttribute::UserData(vec![0, 4, b'o', b'w', b'n', 0]),
                ])
            })
            .collect();
        let inner = NfTablesMessage::NewSetElement(SetElementMessage {
            attributes: vec![
                SetElementList::Table("nsnet".into()),
                SetElementList::Set("owners".into()),
                SetElementList::Elements(elements),
            ],
        });
        let header = NetfilterHeader::new(NetfilterProtoFamily::IPv4, 0, 14);
        let mut message = NetlinkMessage::from(NetfilterMessage::new(header, inner));
        message.header.flags = NLM_F_MULTIPART;
        message.header.sequence_number = 9;
        message.finalize();
        let mut buf = vec![0; message.buffer_len()];
        message.serialize(&mut buf);
        buf
    }

    #[test]
    fn set_elements_read_one_by_one_are_what_the_crate_reads() {
        for n in [0, 1, 2, 300] {
            let buf = dumped(n);
            assert_eq!(
                NetlinkBuffer::new_checked(&buf[..]).unwrap().message_type(),
                NEW_SET_ELEMENT
            );
            let whole = NetlinkMessage::<NetfilterMessage>::deserialize(&buf).unwrap();
            assert_eq!(parse(&buf).unwrap(), vec![whole], "{n} elements");
        }
        // Two messages in one datagram, each read on its own.
        let mut two = dumped(3);
        two.extend(dumped(5));
        assert_eq!(parse(&two).unwrap().len(), 2);
    }

    /// The bytes an expression's data is sent as.
    fn bytes(data: &Expressions) -> Vec<u8> {
        use netlink_packet_core::Emitable;
        let mut buf = vec![0; data.buffer_len()];
        data.emit(&mut buf);
        buf
    }

    #[test]
    fn a_rule_read_lean_is_what_the_crate_reads_but_untyped_data() {
        use netlink_packet_netfilter::nftables::{
            Cmp, DataAttribute, Immediate, Operator, Register, Verdict, VerdictAttribute,
        };
        let expression = |name: &str, data| {
            ListAttribute::Element(vec![
                ExpressionAttribute::Name(name.into()),
                ExpressionAttribute::Data(data),
            ])
        };
        let inner = NfTablesMessage::NewRule(RuleMessage {
            attributes: vec![
                RuleAttribute::Table("filter".into()),
                RuleAttribute::Chain("FORWARD".into()),
                RuleAttribute::Handle(5),
                RuleAttribute::Expressions(vec![
                    expression(
                        "cmp",
                        Expressions::Cmp(vec![
                            Cmp::SourceRegister(Register::Reg1),
                            Cmp::Op(Operator::Equal),
                            Cmp::Data(DataAttribute::Value(vec![10, 0, 0])),
                        ]),
                    ),
                    expression(
                        "match",
                        Expressions::Other {
                            expression_type: "match".into(),
                            attributes: vec![
                                DefaultNla::new(1, b"comment\0".to_vec()),
                                DefaultNla::new(3, vec![b'x'; 256]),
                            ],
                        },
                    ),
                    expression(
                        "immediate",
                        Expressions::Immediate(vec![
                            Immediate::DestinationRegister(Register::Verdict),
                            Immediate::Data(DataAttribute::Verdict(vec![
                                VerdictAttribute::Code(Verdict::Jump),
                                VerdictAttribute::Chain("NSNET-FORWARD".into()),
                            ])),
                        ]),
                    ),
                ]),
                RuleAttribute::UserData(vec![0, 2, b'x', 0]),
            ],
        });
        let header = NetfilterHeader::new(NetfilterProtoFamily::IPv4, 0, 0);
        let mut message = NetlinkMessage::from(NetfilterMessage::new(header, inner));
        message.finalize();
        let mut buf = vec![0; message.buffer_len()];
        message.serialize(&mut buf);
        let rule = |m: NetlinkMessage<NetfilterMessage>| match nftables(match m.payload {
            NetlinkPayload::InnerMessage(m) => m,
            other => panic!("{other:?}"),
        }) {
            Some(NfTablesMessage::NewRule(r)) => r.attributes,
            other => panic!("{other:?}"),
        };
        let whole = rule(NetlinkMessage::<NetfilterMessage>::deserialize(&buf).unwrap());
        let lean = rule(parse(&buf).unwrap().remove(0));
        assert_eq!(whole.len(), lean.len());
        for (w, l) in whole.iter().zip(&lean) {
            match (w, l) {
                (RuleAttribute::Expressions(w), RuleAttribute::Expressions(l)) => {
                    assert_eq!(w.len(), l.len());
                    for (w, l) in w.iter().zip(l) {
                        let (ListAttribute::Element(w), ListAttribute::Element(l)) = (w, l) else {
                            panic!("{w:?} {l:?}");
                        };
                        assert_eq!(w[0], l[0], "the name");
                        let (ExpressionAttribute::Data(w), ExpressionAttribute::Data(l)) =
                            (&w[1], &l[1])
                        else {
                            panic!("{w:?} {l:?}");
                        };
                        match l {
                            Expressions::Other { .. } => assert_eq!(bytes(w), bytes(l)),
                            l => assert_eq!(w, l, "an immediate is typed"),
                        }
                    }
                }
                (w, l) => assert_eq!(w, l),
            }
        }
    }

    #[test]
    fn a_truncated_element_list_is_an_error_not_a_panic() {
        let mut buf = dumped(4);
        let cut = buf.len() - 6;
        buf.truncate(cut);
        buf[..4].copy_from_slice(&(cut as u32).to_ne_bytes());
        assert!(parse(&buf).is_err());
    }
}
