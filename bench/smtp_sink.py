#!/usr/bin/env python3
"""A local SMTP sink for bench/mail: speaks enough SMTP for lettre (EHLO, MAIL, RCPT, DATA,
RSET, NOOP, QUIT), accepts every message, and appends each one's Message-ID to a file, one
line per message, flushed as it arrives (so a sink that is killed loses nothing it
acknowledged). Standard library only.

    bench/smtp_sink.py --port 2525 --out received.txt
"""

import argparse
import asyncio
import signal


async def session(reader, writer, out):
    def send(line):
        writer.write(line.encode() + b"\r\n")

    send("220 sink.bench ESMTP ready")
    await writer.drain()
    try:
        while True:
            line = await reader.readline()
            if not line:
                return
            command = line.decode("latin-1").strip().upper()
            if command.startswith("EHLO"):
                send("250-sink.bench")
                send("250-8BITMIME")
                send("250-SMTPUTF8")
                send("250 SIZE 10485760")
            elif command.startswith(("HELO", "NOOP", "RSET", "MAIL FROM:", "RCPT TO:")):
                send("250 OK")
            elif command == "DATA":
                send("354 End data with <CR><LF>.<CR><LF>")
                await writer.drain()
                message_id = b"(none)"
                in_headers = True
                while True:
                    data = await reader.readline()
                    if not data:
                        return
                    if data in (b".\r\n", b".\n"):
                        break
                    if in_headers:
                        if data in (b"\r\n", b"\n"):
                            in_headers = False
                        elif data[:11].lower() == b"message-id:":
                            message_id = data[11:].strip()
                out.write(message_id + b"\n")
                out.flush()
                send("250 2.0.0 Ok: queued")
            elif command.startswith("QUIT"):
                send("221 2.0.0 Bye")
                await writer.drain()
                return
            else:
                send("502 5.5.2 Command not recognized")
            await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError):
        return
    finally:
        writer.close()


async def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=2525)
    parser.add_argument("--out", required=True, help="file to append Message-IDs to")
    args = parser.parse_args()
    with open(args.out, "ab") as out:
        server = await asyncio.start_server(
            lambda r, w: session(r, w, out), args.host, args.port, reuse_address=True
        )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        async with server:
            await stop.wait()


if __name__ == "__main__":
    asyncio.run(main())
