"""Interop with the stdlib, selectors and asyncio: pysock2 sockets and SockRefs in selectors
and in an event loop's add_reader/add_writer, into_stdlib() for asyncio.open_connection,
SockRef on a live asyncio transport's socket, stdlib sockets wherever a descriptor owner is
taken, and descriptors passed between two processes."""

from __future__ import annotations

import asyncio
import os
import selectors
import socket
import subprocess
import sys
import textwrap

import pytest

from pysock2 import Domain, MsgHdr, MsgHdrMut, Socket, SockRef, Type, cmsg

from conftest import child_python

needs_scm_rights = pytest.mark.skipif(
    not hasattr(cmsg, "SCM_RIGHTS"), reason="SCM_RIGHTS is Unix-only"
)


def borrowed_or_owned(kind: str, sock: Socket):
    return SockRef(sock) if kind == "SockRef" else sock


@pytest.mark.parametrize("kind", ["Socket", "SockRef"])
class TestSelectors:
    def test_registers_and_reports_readiness(self, unix_stream_pair, kind):
        a, b = unix_stream_pair
        watched = borrowed_or_owned(kind, b)
        with selectors.DefaultSelector() as selector:
            selector.register(watched, selectors.EVENT_READ, "b readable")
            assert selector.select(timeout=0) == []
            a.send(b"x")
            [(key, events)] = selector.select(timeout=5)
            assert (key.fileobj, key.data, events) == (watched, "b readable", selectors.EVENT_READ)
            selector.unregister(watched)

    def test_writable(self, unix_stream_pair, kind):
        a, _ = unix_stream_pair
        watched = borrowed_or_owned(kind, a)
        with selectors.DefaultSelector() as selector:
            selector.register(watched, selectors.EVENT_WRITE)
            [(key, events)] = selector.select(timeout=5)
            assert key.fileobj is watched and events == selectors.EVENT_WRITE


@pytest.mark.parametrize("kind", ["Socket", "SockRef"])
def test_asyncio_add_reader_and_add_writer(unix_stream_pair, kind):
    a, b = unix_stream_pair
    reader, writer = borrowed_or_owned(kind, b), borrowed_or_owned(kind, a)
    reader.set_nonblocking(True)

    async def main():
        loop = asyncio.get_running_loop()
        writable = loop.create_future()
        loop.add_writer(writer, writable.set_result, "writable")
        assert await asyncio.wait_for(writable, 5) == "writable"
        loop.remove_writer(writer)
        received = loop.create_future()

        def on_readable():
            received.set_result(reader.recv(100))
            loop.remove_reader(reader)

        loop.add_reader(reader, on_readable)
        writer.send(b"through the loop")
        return await asyncio.wait_for(received, 5)

    assert asyncio.run(main()) == b"through the loop"


def test_into_stdlib_hands_a_socket_to_asyncio_open_connection():
    async def main():
        async def echo(r, w):
            w.write(await r.readline())
            await w.drain()
            w.close()

        server = await asyncio.start_server(echo, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        sock = Socket(Domain.IPV4, Type.STREAM)
        sock.set_tcp_nodelay(True)
        sock.connect(("127.0.0.1", port))
        std = sock.into_stdlib()
        assert sock.closed  # given away
        reader, writer = await asyncio.open_connection(sock=std)
        writer.write(b"hello asyncio\n")
        line = await reader.readline()
        writer.close()
        await writer.wait_closed()
        server.close()
        await server.wait_closed()
        return line

    assert asyncio.run(main()) == b"hello asyncio\n"


def test_sockref_sets_options_on_a_live_asyncio_connection():
    async def main():
        async def echo(r, w):
            w.write(await r.read(100))
            await w.drain()
            w.close()

        server = await asyncio.start_server(echo, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        transport_socket = writer.get_extra_info("socket")
        with SockRef(transport_socket) as ref:
            ref.set_keepalive(True)
            ref.set_tcp_nodelay(True)
            ref.set_send_buffer_size(65536)
            options = (ref.keepalive(), ref.tcp_nodelay())
        still_open = transport_socket.fileno() >= 0  # the borrow never closed it
        writer.write(b"still working")
        echoed = await reader.read(100)
        stdlib_view = transport_socket.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE)
        writer.close()
        await writer.wait_closed()
        server.close()
        await server.wait_closed()
        return options, still_open, echoed, stdlib_view

    options, still_open, echoed, stdlib_view = asyncio.run(main())
    assert options == (True, True)
    assert still_open and echoed == b"still working" and stdlib_view == 1


class TestStdlibSocketsAsOwners:
    def test_sockref_of_a_stdlib_socket(self):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as std:
            ref = SockRef(std)
            ref.bind(("127.0.0.1", 0))
            assert ref.local_addr().as_socket() == std.getsockname()

    @needs_scm_rights
    def test_scm_rights_of_a_stdlib_socket(self, unix_stream_pair):
        a, b = unix_stream_pair
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as std:
            std.bind(("127.0.0.1", 0))
            with MsgHdr(buffers=[b"s"], control=cmsg.scm_rights([std])) as out:
                a.sendmsg(out)
            msg = MsgHdrMut(buffers=[bytearray(1)], control=cmsg.space(4))
            b.recvmsg(msg)
            [fd] = msg.take_fds()
            with socket.socket(fileno=fd) as received:
                assert received.getsockname() == std.getsockname()

    def test_from_stdlib_and_back(self):
        std = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock = Socket.from_stdlib(std)
        assert std.fileno() == -1
        with sock.into_stdlib() as again:
            assert again.type == socket.SOCK_DGRAM


CHILD = textwrap.dedent("""
    import os, sys, tempfile
    from pysock2 import MsgHdr, MsgHdrMut, Socket, cmsg

    channel = Socket.from_fd(int(sys.argv[1]))
    # 1. receive a pipe's write end from the parent and write through it
    msg = MsgHdrMut(buffers=[bytearray(16)], control=cmsg.space(4))
    channel.recvmsg(msg)
    [w] = msg.take_fds()
    os.write(w, b"written by the child")
    os.close(w)
    # 2. send the parent a file the child opened
    with tempfile.TemporaryFile() as f:
        f.write(b"a file opened by the child")
        f.flush()
        with MsgHdr(buffers=[b"file"], control=cmsg.scm_rights([f])) as out:
            channel.sendmsg(out)
    channel.close()
""")


@needs_scm_rights
def test_descriptors_pass_between_two_processes(pipe):
    r, w = pipe
    parent, child_end = Socket.pair(Domain.UNIX, Type.STREAM)
    with parent:
        with child_end:
            child_end.set_cloexec(False)
            proc = subprocess.Popen(
                [sys.executable, "-c", CHILD, str(child_end.fileno())],
                pass_fds=[child_end.fileno()],
                **child_python(),
            )
        with MsgHdr(buffers=[b"pipe"], control=cmsg.scm_rights([w])) as out:
            parent.sendmsg(out)
        pipe.close_write()
        msg = MsgHdrMut(buffers=[bytearray(16)], control=cmsg.space(4))
        parent.set_read_timeout(30)
        assert parent.recvmsg(msg) == 4
        [fd] = msg.take_fds()
        assert proc.wait(timeout=30) == 0
    with os.fdopen(fd, "rb") as received:
        received.seek(0)
        assert received.read() == b"a file opened by the child"
    assert os.read(r, 100) == b"written by the child"
