"""Message I/O: MsgHdr / sendmsg and MsgHdrMut / recvmsg — buffers, the sender's address
with its real length, flags, control data, received descriptors and who owns them."""

from __future__ import annotations

import gc
import os
import socket
import stat
import threading

import pytest

from pysock2 import Domain, MsgHdr, MsgHdrMut, RecvFlags, SockAddr, Socket, Type, cmsg

from conftest import LINUX, needs_linux, setsockopt

needs_scm_rights = pytest.mark.skipif(
    not hasattr(cmsg, "SCM_RIGHTS"), reason="SCM_RIGHTS is Unix-only"
)


def send_fds(sock: Socket, fds: list[int], data: bytes = b"fd") -> int:
    with MsgHdr(buffers=[data], control=cmsg.scm_rights(fds)) as msg:
        return sock.sendmsg(msg)


class TestMsgHdr:
    def test_sendmsg_gathers_the_buffers(self, udp_pair):
        a, b = udp_pair
        assert a.sendmsg(MsgHdr(buffers=[b"mes", bytearray(b"sage")])) == 7
        assert b.recv(10) == b"message"

    def test_addr_is_the_destination(self):
        with Socket(Domain.IPV4, Type.DGRAM) as a, Socket(Domain.IPV4, Type.DGRAM) as b:
            b.bind(("127.0.0.1", 0))
            assert a.sendmsg(MsgHdr(addr=b.local_addr(), buffers=[b"to b"])) == 4
            port = b.local_addr().port()
            assert a.sendmsg(MsgHdr(addr=("127.0.0.1", port), buffers=[b"!"])) == 1
            assert b.recv(10) == b"to b"
            assert b.recv(10) == b"!"

    def test_defaults_send_an_empty_message(self, udp_pair):
        a, b = udp_pair
        assert a.sendmsg(MsgHdr()) == 0
        assert b.recv(10) == b""

    def test_a_header_is_reusable_and_sees_the_current_buffer_content(self, udp_pair):
        a, b = udp_pair
        data = bytearray(b"one")
        msg = MsgHdr(buffers=[data])
        a.sendmsg(msg)
        data[:] = b"two"  # same length: the buffer is exported, so it cannot be resized
        a.sendmsg(msg, flags=0)
        assert (b.recv(10), b.recv(10)) == (b"one", b"two")
        msg.release()

    def test_holds_its_buffers_until_released(self):
        data = bytearray(b"abc")
        msg = MsgHdr(buffers=[data])
        with pytest.raises(BufferError):
            data.extend(b"d")
        msg.release()
        data.extend(b"d")
        msg.release()  # idempotent

    def test_with_block_releases(self, udp_pair):
        a, _ = udp_pair
        data = bytearray(b"abc")
        with MsgHdr(buffers=[data]) as msg:
            pass
        data.extend(b"d")
        with pytest.raises(ValueError, match="released"):
            a.sendmsg(msg)

    def test_repr(self):
        with MsgHdr(addr=("127.0.0.1", 9), buffers=[b"x"], control=b"", flags=0) as msg:
            assert "buffers=1" in repr(msg)
        assert "released" in repr(msg)

    def test_bad_arguments(self):
        with pytest.raises(TypeError, match=r"buffers\[0\] must be a contiguous bytes-like"):
            MsgHdr(buffers=["text"])
        with pytest.raises(TypeError, match="not a single bytes"):
            MsgHdr(buffers=b"abc")
        with pytest.raises(TypeError):
            MsgHdr(control="text")
        with pytest.raises(TypeError):
            MsgHdr(flags="0")
        with pytest.raises(ValueError):
            MsgHdr(addr=("nowhere.example", 80))
        with pytest.raises(ValueError, match="IOV_MAX"):
            MsgHdr(buffers=[b"x"] * (cmsg_iov_max() + 1))
        with pytest.raises(TypeError):
            MsgHdr(unknown=1)

    def test_sendmsg_takes_only_a_msghdr(self, udp_pair):
        a, _ = udp_pair
        with pytest.raises(TypeError, match="msg must be a MsgHdr, not pysock2.MsgHdrMut"):
            a.sendmsg(MsgHdrMut())
        with pytest.raises(TypeError, match="msg must be a MsgHdr"):
            a.sendmsg(b"data")

    def test_sendmsg_on_a_closed_socket(self):
        sock = Socket(Domain.IPV4, Type.DGRAM)
        sock.close()
        msg = MsgHdr(buffers=[b"x"])
        with pytest.raises(OSError) as info:
            sock.sendmsg(msg)
        assert info.value.errno == 9  # EBADF
        msg.release()  # not left marked in use by the failed call

    def test_more_buffers_than_kept_inline(self, udp_pair):
        a, b = udp_pair
        parts = [bytes([65 + i % 26]) for i in range(30)]
        with MsgHdr(buffers=parts) as msg:
            assert a.sendmsg(msg) == 30
        assert b.recv(100) == b"".join(parts)


def cmsg_iov_max() -> int:
    from pysock2 import _pysock2

    return _pysock2.IOV_MAX


class TestMsgHdrMut:
    def test_recvmsg_scatters_and_reports(self, udp_pair):
        a, b = udp_pair
        first, second = bytearray(2), bytearray(8)
        a.send(b"scatter")
        with MsgHdrMut(buffers=[first, second]) as msg:
            assert b.recvmsg(msg) == 7
            assert isinstance(msg.flags(), RecvFlags)
            assert msg.flags() == 0
            assert msg.control_len() == 0
            assert msg.control_messages() == []
            assert msg.addr is None  # not asked for
        assert (first, second[:5]) == (b"sc", b"atter")

    def test_before_any_receive(self):
        msg = MsgHdrMut()
        assert (msg.addr, msg.flags(), msg.control_len(), msg.take_fds()) == (None, 0, 0, [])

    def test_addr_true_records_the_ipv4_sender(self):
        with Socket(Domain.IPV4, Type.DGRAM) as a, Socket(Domain.IPV4, Type.DGRAM) as b:
            a.bind(("127.0.0.1", 0))
            b.bind(("127.0.0.1", 0))
            a.send_to(b"x", b.local_addr())
            msg = MsgHdrMut(addr=True, buffers=[bytearray(4)])
            b.recvmsg(msg)
            assert isinstance(msg.addr, SockAddr)
            assert msg.addr == a.local_addr()
            assert msg.addr.len == len(bytes(a.local_addr()))

    def test_the_address_keeps_the_real_length_of_a_unix_path(self, tmp_path):
        # socket2 leaves the length at sizeof(sockaddr_storage); pysock2 keeps the kernel's.
        path = str(tmp_path / "s")
        with Socket(Domain.UNIX, Type.DGRAM) as a, Socket(Domain.UNIX, Type.DGRAM) as b:
            a.bind(path)
            b.bind(str(tmp_path / "r"))
            a.send_to(b"x", b.local_addr())
            msg = MsgHdrMut(addr=True, buffers=[bytearray(4)])
            b.recvmsg(msg)
            assert msg.addr.len == a.local_addr().len < 110
            assert msg.addr.as_pathname() == path.encode()
            assert msg.addr == a.local_addr()
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as c:
                c.sendto(b"y", str(tmp_path / "r"))  # unbound sender: no address
                b.recvmsg(msg)
                assert msg.addr is None or msg.addr.is_unnamed()

    @needs_linux
    def test_the_address_of_an_abstract_socket(self):
        name = b"pysock2-msg-test-%d" % os.getpid()  # unique among concurrent runs
        with Socket(Domain.UNIX, Type.DGRAM) as a, Socket(Domain.UNIX, Type.DGRAM) as b:
            a.bind(SockAddr.abstract(name + b"-a"))
            b.bind(SockAddr.abstract(name + b"-b"))
            a.send_to(b"x", b.local_addr())
            msg = MsgHdrMut(addr=True, buffers=[bytearray(4)])
            b.recvmsg(msg)
            assert msg.addr.as_abstract_namespace() == name + b"-a"
            assert msg.addr.len == a.local_addr().len

    def test_a_stream_socket_reports_no_address(self, tcp_pair):
        client, server = tcp_pair
        client.send(b"x")
        msg = MsgHdrMut(addr=True, buffers=[bytearray(4)])
        assert server.recvmsg(msg) == 1
        assert msg.addr is None

    def test_truncation_is_flagged(self, udp_pair):
        a, b = udp_pair
        a.send(b"x" * 64)
        msg = MsgHdrMut(buffers=[bytearray(8)])
        assert b.recvmsg(msg) == 8
        assert msg.flags().is_truncated

    def test_peek_leaves_the_message_queued(self, udp_pair):
        a, b = udp_pair
        a.send(b"peek")
        target = bytearray(8)
        msg = MsgHdrMut(buffers=[target])
        assert b.recvmsg(msg, flags=socket.MSG_PEEK) == 4
        assert b.recv(10) == b"peek"
        msg.release()

    def test_holds_its_buffers_until_released(self):
        target = bytearray(4)
        msg = MsgHdrMut(buffers=[target])
        with pytest.raises(BufferError):
            target.extend(b"!")
        msg.release()
        target.extend(b"!")

    def test_recvmsg_into_a_released_header(self, udp_pair):
        _, b = udp_pair
        with MsgHdrMut(buffers=[bytearray(4)]) as msg:
            pass
        with pytest.raises(ValueError, match="released"):
            b.recvmsg(msg)
        assert "released" in repr(msg)

    def test_read_only_buffers_are_refused(self):
        with pytest.raises(TypeError, match=r"buffers\[0\] must be a writable"):
            MsgHdrMut(buffers=[b"read-only"])
        with pytest.raises(TypeError, match="writable"):
            MsgHdrMut(buffers=[memoryview(bytearray(4)).toreadonly()])

    def test_bad_arguments(self):
        with pytest.raises(TypeError, match="addr must be True"):
            MsgHdrMut(addr=1)
        with pytest.raises(TypeError, match="control must be None, a size"):
            MsgHdrMut(control="64")
        with pytest.raises(TypeError, match="control must be None, a size"):
            MsgHdrMut(control=True)
        with pytest.raises(TypeError, match="writable"):
            MsgHdrMut(control=b"read-only control")
        with pytest.raises(ValueError, match="negative"):
            MsgHdrMut(control=-1)
        with pytest.raises(OverflowError):
            MsgHdrMut(control=2**40)

    def test_recvmsg_takes_only_a_msghdrmut(self, udp_pair):
        _, b = udp_pair
        with pytest.raises(TypeError, match="msg must be a MsgHdrMut, not pysock2.MsgHdr$"):
            b.recvmsg(MsgHdr())
        with pytest.raises(TypeError):
            b.recvmsg(MsgHdrMut(), flags=None)

    def test_a_failed_call_leaves_the_header_usable(self, udp_pair):
        a, b = udp_pair
        msg = MsgHdrMut(buffers=[bytearray(4)])
        with pytest.raises(BlockingIOError):
            b.recvmsg(msg, flags=socket.MSG_DONTWAIT)
        b.set_read_timeout(0.01)
        with pytest.raises(TimeoutError):
            b.recvmsg(msg)
        a.send(b"ok")
        assert b.recvmsg(msg) == 2
        msg.release()

    def test_on_a_closed_socket(self):
        sock = Socket(Domain.IPV4, Type.DGRAM)
        sock.close()
        msg = MsgHdrMut(buffers=[bytearray(4)])
        with pytest.raises(OSError) as info:
            sock.recvmsg(msg)
        assert info.value.errno == 9  # EBADF
        msg.release()

    def test_release_while_a_receive_waits_is_a_buffer_error(self, udp_pair):
        a, b = udp_pair
        b.set_read_timeout(10)  # a safety net against hanging
        msg = MsgHdrMut(buffers=[bytearray(8)])
        started = threading.Event()
        result = []

        def receive():
            started.set()
            while True:
                try:
                    result.append(b.recvmsg(msg))
                    return
                except BufferError:  # the main thread's probe held the header: retry
                    continue

        waiter = threading.Thread(target=receive)
        waiter.start()
        started.wait()
        # Probe until the waiter holds the header (our probe then gets BufferError); it
        # stays blocked in recvmsg, holding it, until the datagram below arrives.
        while True:
            try:
                b.recvmsg(msg, flags=socket.MSG_DONTWAIT)
            except BufferError:
                break
            except BlockingIOError:
                continue
        with pytest.raises(BufferError, match="in use"):
            msg.release()
        a.send(b"done")
        waiter.join()
        assert result == [4]
        msg.release()


class TestControlData:
    def test_control_room_as_a_size(self, unix_dgram_pair, pipe):
        a, b = unix_dgram_pair
        send_fds(a, [pipe[0]])
        msg = MsgHdrMut(buffers=[bytearray(4)], control=cmsg.space(4))
        b.recvmsg(msg)
        assert msg.control_len() == cmsg.space(4)
        [(level, kind, data)] = msg.control_messages()
        assert (level, kind, len(data)) == (socket.SOL_SOCKET, cmsg.SCM_RIGHTS, 4)
        for fd in msg.take_fds():
            os.close(fd)

    def test_control_room_as_the_callers_buffer(self, unix_dgram_pair, pipe):
        a, b = unix_dgram_pair
        send_fds(a, [pipe[0]])
        room = bytearray(64)
        with MsgHdrMut(buffers=[bytearray(4)], control=room) as msg:
            b.recvmsg(msg)
            n = msg.control_len()
            # The kernel wrote the messages into the caller's buffer, zero-copy.
            assert cmsg.parse(room[:n]) == msg.control_messages()
            for fd in msg.take_fds():
                os.close(fd)
        room.extend(b"!")  # released

    def test_too_little_room_is_flagged_ctrunc(self, unix_dgram_pair, pipe):
        a, b = unix_dgram_pair
        send_fds(a, [pipe[0], pipe[1], pipe[0]])
        msg = MsgHdrMut(buffers=[bytearray(4)], control=cmsg.space(4))
        b.recvmsg(msg)
        assert msg.flags() & RecvFlags.CTRUNC
        fds = msg.take_fds()
        for fd in fds:
            os.close(fd)
        assert 0 < len(fds) < 3  # the kernel closed those that did not fit

    def test_control_messages_of_a_message_without_any(self, udp_pair):
        a, b = udp_pair
        a.send(b"x")
        msg = MsgHdrMut(buffers=[bytearray(4)], control=64)
        b.recvmsg(msg)
        assert (msg.control_len(), msg.control_messages()) == (0, [])

    def test_sent_control_data_reaches_the_stdlib(self, unix_dgram_pair, pipe):
        # Interop: the layout pysock2 builds is what the stdlib's recvmsg parses.
        a, b = unix_dgram_pair
        send_fds(a, [pipe[0]], data=b"std")
        with socket.socket(fileno=os.dup(b.fileno())) as std:
            data, ancdata, flags, _ = std.recvmsg(16, socket.CMSG_SPACE(4))
        [(level, kind, payload)] = ancdata
        assert (data, level, kind) == (b"std", socket.SOL_SOCKET, socket.SCM_RIGHTS)
        os.close(int.from_bytes(payload, "little" if LINUX else "big"))

    def test_stdlib_control_data_reaches_pysock2(self, unix_dgram_pair, pipe):
        a, b = unix_dgram_pair
        with socket.socket(fileno=os.dup(a.fileno())) as std:
            std.sendmsg(
                [b"x"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, pipe[0].to_bytes(4, "little"))]
            )
        msg = MsgHdrMut(buffers=[bytearray(4)], control=socket.CMSG_SPACE(4))
        b.recvmsg(msg)
        [(level, kind, payload)] = msg.control_messages()
        assert (level, kind) == (socket.SOL_SOCKET, socket.SCM_RIGHTS)
        fds = msg.take_fds()
        assert fds == cmsg.parse_scm_rights(payload)
        for fd in fds:
            os.close(fd)


@needs_scm_rights
class TestReceivedDescriptors:
    def test_take_fds_hands_them_over(self, unix_stream_pair, pipe):
        a, b = unix_stream_pair
        r, w = pipe
        send_fds(a, [w])
        msg = MsgHdrMut(buffers=[bytearray(4)], control=cmsg.space(4))
        b.recvmsg(msg)
        [fd] = msg.take_fds()
        assert msg.take_fds() == []  # taken once
        os.write(fd, b"through the passed descriptor")
        os.close(fd)
        assert os.read(r, 100) == b"through the passed descriptor"

    @needs_linux
    def test_received_descriptors_are_close_on_exec(self, unix_stream_pair, pipe):
        a, b = unix_stream_pair
        send_fds(a, [pipe[1]])
        msg = MsgHdrMut(buffers=[bytearray(4)], control=cmsg.space(4))
        b.recvmsg(msg)
        [fd] = msg.take_fds()
        assert not os.get_inheritable(fd)
        assert not msg.flags() & getattr(cmsg, "MSG_CMSG_CLOEXEC", 0)  # not a message flag
        os.close(fd)

    def test_several_messages_and_descriptors(self, unix_dgram_pair, pipe):
        a, b = unix_dgram_pair
        control = cmsg.scm_rights([pipe[0]]) + cmsg.scm_rights([pipe[1], pipe[0]])
        with MsgHdr(buffers=[b"x"], control=control) as out:
            a.sendmsg(out)
        msg = MsgHdrMut(buffers=[bytearray(4)], control=256)
        b.recvmsg(msg)
        fds = msg.take_fds()
        assert len(fds) == 3
        assert [stat.S_ISFIFO(os.fstat(fd).st_mode) for fd in fds] == [True] * 3
        for fd in fds:
            os.close(fd)

    def test_descriptors_not_taken_are_closed_by_the_next_receive(self, unix_dgram_pair, pipe):
        a, b = unix_dgram_pair
        r, w = pipe
        send_fds(a, [w])
        pipe.close_write()  # the only write end left is the one in flight
        msg = MsgHdrMut(buffers=[bytearray(4)], control=cmsg.space(4))
        b.recvmsg(msg)
        a.send(b"next")
        b.recvmsg(msg)  # closes the write end received before
        assert os.read(r, 10) == b""  # end of file: no write end is open anywhere
        msg.release()

    def test_release_closes_descriptors_not_taken(self, unix_dgram_pair, pipe):
        a, b = unix_dgram_pair
        r, w = pipe
        send_fds(a, [w])
        pipe.close_write()
        msg = MsgHdrMut(buffers=[bytearray(4)], control=cmsg.space(4))
        b.recvmsg(msg)
        msg.release()
        assert msg.take_fds() == []
        assert os.read(r, 10) == b""

    def test_garbage_collection_closes_them_with_a_resource_warning(self, unix_dgram_pair, pipe):
        a, b = unix_dgram_pair
        r, w = pipe
        send_fds(a, [w])
        pipe.close_write()
        msg = MsgHdrMut(buffers=[bytearray(4)], control=cmsg.space(4))
        b.recvmsg(msg)
        with pytest.warns(ResourceWarning, match="never taken"):
            del msg
            gc.collect()
        assert os.read(r, 10) == b""

    def test_peeking_duplicates_descriptors_and_none_leak(self, unix_stream_pair, pipe):
        a, b = unix_stream_pair
        send_fds(a, [pipe[0]])
        msg = MsgHdrMut(buffers=[bytearray(2)], control=cmsg.space(4))
        b.recvmsg(msg, flags=socket.MSG_PEEK)
        peeked = msg.take_fds()
        b.recvmsg(msg)
        received = msg.take_fds()
        assert len(peeked) == len(received) == 1
        for fd in peeked + received:
            os.close(fd)

    def test_a_socket_can_be_passed(self, unix_dgram_pair):
        a, b = unix_dgram_pair
        with Socket(Domain.IPV4, Type.DGRAM) as udp:
            udp.bind(("127.0.0.1", 0))
            send_fds(a, [udp.fileno()])
            msg = MsgHdrMut(buffers=[bytearray(4)], control=cmsg.space(4))
            b.recvmsg(msg)
            [fd] = msg.take_fds()
            with Socket.from_fd(fd) as received:
                assert received.local_addr() == udp.local_addr()


@needs_linux
class TestCredentials:
    def test_scm_credentials_of_the_sender(self, unix_dgram_pair):
        a, b = unix_dgram_pair
        setsockopt(b, socket.SOL_SOCKET, cmsg.SO_PASSCRED)
        a.send(b"who")
        msg = MsgHdrMut(buffers=[bytearray(4)], control=cmsg.space(64))
        b.recvmsg(msg)
        [(level, kind, data)] = msg.control_messages()
        assert (level, kind) == (socket.SOL_SOCKET, cmsg.SCM_CREDENTIALS)
        assert cmsg.parse_scm_credentials(data) == (os.getpid(), os.getuid(), os.getgid())

    def test_sending_explicit_credentials(self, unix_dgram_pair):
        a, b = unix_dgram_pair
        setsockopt(b, socket.SOL_SOCKET, cmsg.SO_PASSCRED)
        creds = cmsg.scm_credentials(os.getpid(), os.getuid(), os.getgid())
        with MsgHdr(buffers=[b"me"], control=creds) as out:
            a.sendmsg(out)
        msg = MsgHdrMut(buffers=[bytearray(4)], control=cmsg.space(64))
        b.recvmsg(msg)
        [(_, _, data)] = msg.control_messages()
        assert cmsg.parse_scm_credentials(data) == (os.getpid(), os.getuid(), os.getgid())
