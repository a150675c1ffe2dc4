#!/usr/bin/env python3
"""Writes the committed seed corpus: a handful of small, readable cases per target.

Each target decodes its own small header, then a `chatecho_model::Experiment` (see the
`Arbitrary` impls in tests/model/src/arbitrary.rs for the layout: a 31-byte protocol, a 21-byte
schedule, one shaping byte), then takes the rest of the input as the stream. A `bool` is the
low bit of a byte, a `[u8; 2]` limit is little-endian. Check a seed with
`cargo +nightly fuzz fmt <target> corpus/<target>/<file>`. Run from fuzz/: ./make_corpus.py
"""
import os
import struct

OPEN, EOF, SHUTDOWN = 0, 1, 2
KEEP, SAME, OTHER = 0, 1, 2


def experiment(delimiter=b"\r\n", prefix=b"You sent: ", quit=b".", max_line=4096,
               error_text=None, reads=(0,), drains=(255,), storage=(KEEP,), ending=OPEN,
               alphabet=False, repeat=0, stream=b""):
    # The prefix and quit line are 10- and 4-byte patterns repeated to their length, the
    # error text one repeated byte; reads 0 = all that is left, drains 255 = all there is.
    def pattern(b, n):
        return (b * n)[:n] if b else b"\0" * n
    def cycle(values, n):
        return bytes((list(values) * n)[:n])
    quit_len = 255 if quit is None else len(quit)
    error_len, error_byte = (255, 0) if error_text is None else (len(error_text),
                                                                 (error_text or b"\0")[0])
    protocol = (bytes([len(delimiter)]) + delimiter.ljust(10, b"\0")
                + bytes([len(prefix)]) + pattern(prefix[:10], 10)
                + bytes([quit_len]) + pattern((quit or b"")[:4], 4)
                + struct.pack("<H", max_line) + bytes([error_len, error_byte]))
    schedule = cycle(reads, 8) + cycle(drains, 8) + cycle(storage, 4) + bytes([ending])
    shape = (repeat << 4) | int(alphabet)
    return protocol + schedule + bytes([shape]) + stream


def framer(capacity, exact=False, mode=0, **kw):
    # capacity indexes [9, 16, 72, 3000]; mode: 1 peek/advance, 2 overcommit, 4 idle calls.
    return bytes([capacity, exact, mode]) + experiment(**kw)


def session(capacity, exact=False, mode=0, **kw):
    # capacity: 0 is <16, 48>, 1 is <64, 128>, 2 is <3000, 3200>; mode: 1 overcommit and
    # overconsume, 2 idle calls.
    return bytes([capacity, exact, mode]) + experiment(**kw)


SEEDS = {
    "framer": {
        "crlf-lines": framer(2, max_line=16, stream=b"hello\r\nworld\r\n\r\ntail"),
        "split-delimiter-bytewise": framer(2, max_line=16, reads=(1,), stream=b"ab\r\ncd\r\n"),
        "overlapping-delimiter": framer(1, delimiter=b"aab", max_line=8, reads=(2, 1, 3),
                                        stream=b"xaaabyaabaab"),
        "overlong-then-line": framer(1, delimiter=b"\n", max_line=4, reads=(3,),
                                     stream=b"abcdefghij\nok\n"),
        "tightest-buffer": framer(0, delimiter=b"12345678", max_line=1, exact=True,
                                  reads=(1, 9), ending=EOF, stream=b"a12345678x1234567"),
        "growth-long-lines": framer(3, max_line=2990, reads=(0, 200), repeat=15,
                                    stream=b"y" * 200 + b"\r\n"),
        "peek-overcommit-eof": framer(2, delimiter=b"\r\r\n", max_line=5, mode=3, ending=EOF,
                                      stream=b"x\r\r\r\ny\r\r\nlong-tail"),
        "alphabet-near-misses": framer(2, delimiter=b"abab", max_line=20, alphabet=True,
                                       reads=(1, 2, 3), stream=bytes(range(64))),
    },
    "session": {
        "seed-example": session(1, max_line=60, stream=b"hello\r\nworld\r\n.\r\nignored\r\n"),
        "split-reads-slow-drain": session(1, max_line=60, reads=(1, 2, 3), drains=(1, 0, 5),
                                          stream=b"one\r\ntwo\r\n..\r\n .\r\n.\r\n"),
        "backpressure": session(0, delimiter=b"\n", prefix=b"", max_line=10, reads=(0,),
                                drains=(0, 0, 1), stream=b"0123456789\n" * 6),
        "overlong-custom-error-eof": session(1, delimiter=b"|", max_line=5, error_text=b"!!",
                                             ending=EOF, stream=b"abcdefgh|ok|partial"),
        "shutdown-midway": session(1, max_line=30, ending=SHUTDOWN, quit=None,
                                   stream=b"a\r\nb\r\nc\r\nd"),
        "shutdown-overlong-held-back": session(1, prefix=b"", max_line=1, ending=SHUTDOWN,
                                               drains=(2, 255, 0), stream=b".x\r\n.x\r\n\r\0\r\naa\r\naaa"),
        "empty-quit-line": session(1, delimiter=b"\n", quit=b"", max_line=8,
                                   stream=b"x\n\nafter\n"),
        "invalid-delimiter": session(1, delimiter=b"123456789", stream=b"x"),
        "storage-swaps": session(1, max_line=20, reads=(3, 1, 7), drains=(255, 0, 4),
                                 storage=(SAME, OTHER, KEEP, OTHER), ending=EOF,
                                 stream=b"one\r\ntwo\r\nthree is longer than the limit\r\nfour"),
        "output-growth-undrained": session(2, max_line=100, reads=(0, 7), drains=(0,) * 7 + (255,),
                                           repeat=15, stream=b"a line of some thirty bytes.\r\n" * 8),
        "growth-many-lines": session(2, max_line=2000, reads=(0, 250), drains=(255, 100),
                                     repeat=15, stream=b"z" * 1500 + b"\r\nshort\r\n"),
    },
}

for target, seeds in SEEDS.items():
    os.makedirs(os.path.join("corpus", target), exist_ok=True)
    for name, data in seeds.items():
        with open(os.path.join("corpus", target, name), "wb") as f:
            f.write(data)
