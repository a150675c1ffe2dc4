#!/usr/bin/env python3
"""Writes the committed seed corpus: a handful of small, readable cases per target.

The targets decode a fixed-size header of one-byte fields (in their `Case` struct order; a
`bool` is the low bit of a byte, a `[u8; 2]` limit is little-endian) and take the rest of the
input as the stream, so a seed is a header plus protocol bytes. Check one with
`cargo +nightly fuzz fmt <target> corpus/<target>/<file>`. Run from fuzz/: ./make_corpus.py
"""
import os
import struct


def framer(capacity, delimiter, max_line, exact=False, reads=(0,), mode=0, repeat=0, eof=False,
           stream=b""):
    # capacity indexes [9, 16, 72, 3000].
    reads = (list(reads) * 8)[:8]
    return (bytes([capacity, len(delimiter) - 1]) + delimiter.ljust(8, b"\0")
            + struct.pack("<H", max_line) + bytes([exact]) + bytes(reads)
            + bytes([mode, repeat, eof]) + stream)


def session(capacity, delimiter=b"\r\n", prefix=b"You sent: ", quit=b".", max_line=4096,
            exact=False, error_text=None, reads=(0,), drains=(255,), mode=0, end=0,
            end_at=0xFFFF, repeat=0, stream=b""):
    # capacity: 0 is <16, 48>, 1 is <64, 128>, 2 is <3000, 3200>. The prefix and quit line
    # are 10- and 4-byte patterns cycled to length, the error text one repeated byte.
    def pattern(b, n):
        return (b * n)[:n] if b else b"\0" * n
    reads = (list(reads) * 8)[:8]
    drains = (list(drains) * 8)[:8]
    quit_len = 255 if quit is None else len(quit)
    error_len, error_byte = (255, 0) if error_text is None else (len(error_text),
                                                                 (error_text or b"\0")[0])
    return (bytes([capacity, len(delimiter)]) + delimiter.ljust(10, b"\0")
            + bytes([len(prefix)]) + pattern(prefix[:10], 10)
            + bytes([quit_len]) + pattern((quit or b"")[:4], 4)
            + struct.pack("<H", max_line) + bytes([exact, error_len, error_byte])
            + bytes(reads) + bytes(drains) + bytes([mode, end]) + struct.pack("<H", end_at)
            + bytes([repeat]) + stream)


SEEDS = {
    "framer": {
        "crlf-lines": framer(2, b"\r\n", 16, stream=b"hello\r\nworld\r\n\r\ntail"),
        "split-delimiter-bytewise": framer(2, b"\r\n", 16, reads=(1,), stream=b"ab\r\ncd\r\n"),
        "overlapping-delimiter": framer(1, b"aab", 8, reads=(2, 1, 3), stream=b"xaaabyaabaab"),
        "overlong-then-line": framer(1, b"\n", 4, reads=(3,), stream=b"abcdefghij\nok\n"),
        "tightest-buffer": framer(0, b"12345678", 1, reads=(1, 9), eof=True,
                                  stream=b"a12345678x1234567"),
        "growth-long-lines": framer(3, b"\r\n", 2990, reads=(0, 200), repeat=15,
                                    stream=b"y" * 200 + b"\r\n"),
        "peek-overcommit-eof": framer(2, b"\r\r\n", 5, mode=3, eof=True,
                                      stream=b"x\r\r\r\ny\r\r\nlong-tail"),
    },
    "session": {
        "seed-example": session(1, max_line=60, stream=b"hello\r\nworld\r\n.\r\nignored\r\n"),
        "split-reads-slow-drain": session(1, max_line=60, reads=(1, 2, 3), drains=(1, 0, 5),
                                          stream=b"one\r\ntwo\r\n..\r\n .\r\n.\r\n"),
        "backpressure": session(0, delimiter=b"\n", prefix=b"", max_line=10, reads=(0,),
                                drains=(0, 0, 1), stream=b"0123456789\n" * 6),
        "overlong-custom-error-eof": session(1, delimiter=b"|", max_line=5, error_text=b"!!",
                                             end=1, stream=b"abcdefgh|ok|partial"),
        "shutdown-midway": session(1, max_line=30, end=2, end_at=9, quit=None,
                                   stream=b"a\r\nb\r\nc\r\nd\r\n"),
        "empty-quit-line": session(1, delimiter=b"\n", quit=b"", max_line=8,
                                   stream=b"x\n\nafter\n"),
        "invalid-delimiter": session(1, delimiter=b"123456789", stream=b"x"),
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
