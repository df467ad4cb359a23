package io.eddy.ioloop.internal;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.channels.SelectableChannel;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.channels.spi.AbstractSelectableChannel;
import java.nio.channels.spi.AbstractSelector;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;

import static io.eddy.ioloop.internal.LibC.DATA;
import static io.eddy.ioloop.internal.LibC.DATA_OFFSET;
import static io.eddy.ioloop.internal.LibC.EVENTS_OFFSET;
import static io.eddy.ioloop.internal.LibC.EVENT_SIZE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * The Linux epoll backend, on libc through {@code java.lang.foreign}: level-triggered like Tornado's, one
 * {@code eventfd} for wake-ups, {@code epoll_wait} into a native event array reused from poll to poll.
 *
 * <p>Each registration has a slot in a table; the event's user data is the slot number tagged with the
 * registration's serial number (high 32 bits), so an event is matched to its registration without a lookup by
 * descriptor, and an event whose tag is not the slot's current one is dropped: the kernel keeps a closed
 * socket's entry while another descriptor of the socket lives (a child process between fork and exec holds
 * one), and that entry's events must not reach the slot's next registration. A registration removed (or
 * whose channel closed) while events of the same poll are still to be dispatched is marked dead, and its
 * events are dropped: a descriptor number the kernel reuses within one batch cannot reach the old handler.
 *
 * <p>Events: EPOLLIN (and EPOLLRDHUP) is READ, EPOLLOUT is WRITE, EPOLLERR (0x008) and EPOLLHUP (0x010) are
 * the two bits of ERROR (0x018), reported as the kernel sets them, whatever the interest. On a server channel READ means acceptable; on a connecting
 * channel WRITE (or ERROR) means the connect finished or failed.
 *
 * <p>Owner thread only (see {@link Poller}), except {@link #wakeup()}.
 */
public final class EpollPoller implements Poller {

    /** Events fetched per {@code epoll_wait}; more ready descriptors are reported by the next poll. */
    static final int MAX_EVENTS = 1024;
    /** The user data of the wake-up eventfd's event; registrations use slots from 0. */
    private static final long WAKEUP_DATA = -1L;
    /** The eventfd's counter increment: 1 as 8 native bytes, shared by every poller and never written. */
    private static final MemorySegment ONE = Arena.global().allocate(JAVA_LONG);

    static {
        ONE.set(JAVA_LONG, 0, 1L);
    }

    private final Arena arena = Arena.ofShared();
    private final LibC.Errno errno = new LibC.Errno(arena);
    /** The wake-up's own errno capture: wakeup() runs on any thread. Values are never read. */
    private final LibC.Errno wakeErrno = new LibC.Errno(arena);
    private final MemorySegment events = arena.allocate(EVENT_SIZE * MAX_EVENTS, 8);
    /** One epoll_event for epoll_ctl calls. */
    private final MemorySegment ctlEvent = arena.allocate(EVENT_SIZE, 8);
    private final MemorySegment drain = arena.allocate(JAVA_LONG);
    private final int epfd;
    private final int wakeFd;

    private NativeIO io;
    private final InterruptHook interrupts = new InterruptHook(this);
    private final Map<SelectableChannel, EpollKey> byChannel = new HashMap<>();
    private EpollKey[] slots = new EpollKey[64];
    private int[] freeSlots = new int[64];
    private int freeCount;
    private int nextSlot;
    /** Registrations made so far: the tag in the high half of each one's event data (see the class comment). */
    private int serial;
    /** Registrations at the last sweep for closed channels; the next sweep comes when this doubles. */
    private int sweptSize = 32;

    /** Threads in wakeup(); close() waits for them before it closes the eventfd (whose number may be reused). */
    private final AtomicInteger waking = new AtomicInteger();
    private volatile boolean closed;

    public EpollPoller() throws IOException {
        String unavailable = NativeSupport.unavailableReason();
        if (unavailable != null) {
            arena.close();
            throw new IllegalStateException(unavailable);
        }
        epfd = LibC.epollCreate1(errno, LibC.EPOLL_CLOEXEC);
        if (epfd < 0) {
            int e = errno.value();
            arena.close();
            throw failure("epoll_create1", e);
        }
        wakeFd = LibC.eventfd(errno, 0, LibC.EFD_CLOEXEC | LibC.EFD_NONBLOCK);
        if (wakeFd < 0) {
            int e = errno.value();
            LibC.close(errno, epfd);
            arena.close();
            throw failure("eventfd", e);
        }
        if (ctl(LibC.EPOLL_CTL_ADD, wakeFd, LibC.EPOLLIN, WAKEUP_DATA) < 0) {
            int e = errno.value();
            LibC.close(errno, wakeFd);
            LibC.close(errno, epfd);
            arena.close();
            throw failure("epoll_ctl(ADD eventfd)", e);
        }
    }

    @Override
    public String name() {
        return "epoll";
    }

    @Override
    public PollKey register(SelectableChannel channel, int events, Object attachment) throws IOException {
        checkValid(channel, events);
        channel.configureBlocking(false);
        if (byChannel.size() >= 2 * sweptSize) {
            sweepClosed();
        }
        int fd = NativeSupport.fdOf(channel);
        EpollKey key = new EpollKey(channel, attachment, events, fd, allocateSlot(), ++serial);
        int slot = key.slot;
        int mask = epollMask(events);
        if (mask != 0 && ctl(LibC.EPOLL_CTL_ADD, fd, mask, key.data) < 0) {
            int e = errno.value();
            // EEXIST: the number belonged to a channel closed while registered in a way the kernel kept
            // (a duplicate of its descriptor still open); take the registration over.
            if (e != LibC.EEXIST || ctl(LibC.EPOLL_CTL_MOD, fd, mask, key.data) < 0) {
                freeSlot(slot);
                throw failure("epoll_ctl(ADD fd " + fd + ")", e == LibC.EEXIST ? errno.value() : e);
            }
        }
        key.inKernel = mask != 0;
        slots[slot] = key;
        EpollKey previous = byChannel.put(channel, key);
        if (previous != null) {
            previous.removed = true; // its channel was closed and reopened? cannot be: a stale entry, dead now
            releaseSlot(previous);
        }
        return key;
    }

    /** This loop's native scratch for socket I/O (made on first use). Owner thread only. */
    public synchronized NativeIO io() {
        NativeIO n = io;
        if (n == null) {
            io = n = new NativeIO(arena, errno);
        }
        return n;
    }

    /**
     * Registers a descriptor the caller owns (a native socket: no JDK channel), with the same event rules.
     * The caller deregisters it before closing it; its key's {@link PollKey#channel()} is null.
     */
    public PollKey registerFd(int fd, int events, Object attachment) throws IOException {
        EpollKey key = new EpollKey(null, attachment, events, fd, allocateSlot(), ++serial);
        int mask = epollMask(events);
        if (mask != 0 && ctl(LibC.EPOLL_CTL_ADD, fd, mask, key.data) < 0) {
            int e = errno.value();
            freeSlot(key.slot);
            throw failure("epoll_ctl(ADD fd " + fd + ")", e);
        }
        key.inKernel = mask != 0;
        slots[key.slot] = key;
        return key;
    }

    @Override
    public PollKey find(SelectableChannel channel) {
        EpollKey key = byChannel.get(channel);
        return key != null && key.isLive() ? key : null;
    }

    @Override
    public void modify(PollKey key, int events) {
        EpollKey k = (EpollKey) key;
        if (k.channel() != null) {
            checkValid(k.channel(), events);
        }
        int mask = epollMask(events);
        k.events = events;
        if (mask != k.mask || (mask != 0) != k.inKernel) {
            // No interest: out of the epoll set, since the kernel reports errors and hang-ups whatever the mask,
            // on every poll while they last (a paused handler would spin). Back in when interest returns.
            int op = mask == 0 ? LibC.EPOLL_CTL_DEL : k.inKernel ? LibC.EPOLL_CTL_MOD : LibC.EPOLL_CTL_ADD;
            if (ctl(op, k.fd, mask, k.data) < 0) {
                throw new IllegalStateException(failure("epoll_ctl(" + op + ", fd " + k.fd + ")", errno.value()));
            }
            k.mask = mask;
            k.inKernel = mask != 0;
        }
    }

    @Override
    public void deregister(PollKey key) {
        remove((EpollKey) key, true);
    }

    /**
     * Closing the descriptor takes it out of the epoll set (the owner's is its socket's only descriptor:
     * close-on-exec, never duplicated), so the EPOLL_CTL_DEL is skipped: one system call less per connection.
     * Should a child process between fork and exec hold a copy for a moment, the entry outlives the close
     * until the exec; its events carry this registration's tag and are dropped (see the class comment).
     */
    @Override
    public void deregisterBeforeClose(PollKey key) {
        EpollKey k = (EpollKey) key;
        remove(k, k.channel() != null);
    }

    private void remove(EpollKey k, boolean leaveSet) {
        if (k.removed) {
            return;
        }
        k.removed = true;
        if (k.channel() == null) {
            if (k.inKernel && leaveSet) {
                ctl(LibC.EPOLL_CTL_DEL, k.fd, 0, 0); // the owner closes the descriptor after this, never before
            }
        } else {
            byChannel.remove(k.channel(), k);
            // A closed channel's descriptor left the epoll set when it was closed, and its number may belong
            // to another registration by now: only an open one is removed by number.
            if (k.inKernel && k.channel().isOpen()) {
                ctl(LibC.EPOLL_CTL_DEL, k.fd, 0, 0);
            }
        }
        releaseSlot(k);
    }

    @Override
    public int poll(long timeoutNanos, ReadyEvents out) throws IOException {
        int timeout;
        if (timeoutNanos < 0) {
            timeout = -1;
        } else {
            // Round up: waking before the deadline would only cost another poll.
            long millis = timeoutNanos / 1_000_000 + (timeoutNanos % 1_000_000 == 0 ? 0 : 1);
            timeout = (int) Math.min(millis, Integer.MAX_VALUE);
        }
        int n;
        if (timeout == 0) {
            n = LibC.epollWait(errno, epfd, events, MAX_EVENTS, 0);
        } else {
            interrupts.beginBlocking(); // Thread.interrupt() now wakes the poll, as it wakes a Selector
            try {
                n = LibC.epollWait(errno, epfd, events, MAX_EVENTS, timeout);
            } finally {
                interrupts.endBlocking();
            }
        }
        if (n < 0) {
            int e = errno.value();
            if (e == LibC.EINTR) {
                return 0; // a signal: the loop comes round again and polls anew
            }
            throw failure("epoll_wait", e);
        }
        int collected = 0;
        for (int i = 0; i < n; i++) {
            long offset = i * EVENT_SIZE;
            long data = events.get(DATA, offset + DATA_OFFSET);
            if (data == WAKEUP_DATA) {
                LibC.read(errno, wakeFd, drain, 8); // resets the counter; EAGAIN if another read got it
                continue;
            }
            EpollKey key = slots[(int) data]; // the slot: the low half
            if (key == null || key.data != data) {
                continue; // a removed registration's, or a stale kernel entry's (see the class comment)
            }
            int ready = events.get(JAVA_INT, offset + EVENTS_OFFSET);
            int loopEvents = 0;
            if ((ready & (LibC.EPOLLIN | LibC.EPOLLRDHUP)) != 0) {
                loopEvents |= READ;
            }
            if ((ready & LibC.EPOLLOUT) != 0) {
                loopEvents |= WRITE;
            }
            // ERROR is epoll's two bits, kept apart: 0x008 an error is pending, 0x010 hung up.
            loopEvents |= ready & (LibC.EPOLLERR | LibC.EPOLLHUP);
            out.add(key, loopEvents);
            collected++;
        }
        return collected;
    }

    @Override
    public void wakeup() {
        waking.incrementAndGet();
        try {
            if (!closed) {
                LibC.write(wakeErrno, wakeFd, ONE, 8); // EAGAIN only if the counter is near overflow: awake anyway
            }
        } finally {
            waking.decrementAndGet();
        }
    }

    @Override
    public void forEach(Consumer<PollKey> action) {
        EpollKey[] snapshot = Arrays.copyOf(slots, nextSlot); // the action may add or remove registrations
        for (EpollKey key : snapshot) {
            if (key != null && key.isLive()) {
                action.accept(key);
            }
        }
    }

    @Override
    public void close() throws IOException {
        if (closed) {
            return;
        }
        closed = true;
        while (waking.get() != 0) {
            Thread.yield(); // a wakeup that saw the poller open finishes its write first
        }
        for (EpollKey key : slots) {
            if (key != null) {
                key.removed = true;
            }
        }
        byChannel.clear();
        Arrays.fill(slots, null);
        LibC.close(errno, wakeFd);
        LibC.close(errno, epfd);
        arena.close();
    }

    // ---------------------------------------------------------------- helpers

    private int ctl(int op, int fd, int mask, long data) {
        ctlEvent.set(JAVA_INT, EVENTS_OFFSET, mask);
        ctlEvent.set(DATA, DATA_OFFSET, data);
        return LibC.epollCtl(errno, epfd, op, fd, ctlEvent);
    }

    private static int epollMask(int events) {
        int mask = 0;
        if ((events & READ) != 0) {
            mask |= LibC.EPOLLIN | LibC.EPOLLRDHUP;
        }
        if ((events & WRITE) != 0) {
            mask |= LibC.EPOLLOUT;
        }
        return mask; // EPOLLERR and EPOLLHUP are always reported
    }

    /** The same check as the nio backend's, so that a bad event fails alike on both. */
    private static void checkValid(SelectableChannel channel, int events) {
        if ((events & READ) != 0 && (channel.validOps() & (SelectionKey.OP_READ | SelectionKey.OP_ACCEPT)) == 0) {
            throw invalid("READ", channel, events);
        }
        if ((events & WRITE) != 0 && (channel instanceof ServerSocketChannel
                || (channel.validOps() & (SelectionKey.OP_WRITE | SelectionKey.OP_CONNECT)) == 0)) {
            throw invalid("WRITE", channel, events);
        }
    }

    private static IllegalArgumentException invalid(String event, SelectableChannel channel, int events) {
        return new IllegalArgumentException(event + " is not a valid event for a "
                + channel.getClass().getSimpleName() + " (events 0x" + Integer.toHexString(events) + ")");
    }

    private int allocateSlot() {
        if (freeCount > 0) {
            return freeSlots[--freeCount];
        }
        if (nextSlot == slots.length) {
            slots = Arrays.copyOf(slots, nextSlot * 2);
        }
        return nextSlot++;
    }

    private void freeSlot(int slot) {
        slots[slot] = null;
        if (freeCount == freeSlots.length) {
            freeSlots = Arrays.copyOf(freeSlots, freeCount * 2);
        }
        freeSlots[freeCount++] = slot;
    }

    private void releaseSlot(EpollKey key) {
        if (slots[key.slot] == key) {
            freeSlot(key.slot);
        }
    }

    /** Drops the registrations of channels closed without being removed (the kernel dropped them already). */
    private void sweepClosed() {
        byChannel.values().removeIf(key -> {
            if (key.channel().isOpen()) {
                return false;
            }
            key.removed = true;
            releaseSlot(key);
            return true;
        });
        sweptSize = Math.max(32, byChannel.size());
    }

    private static IOException failure(String call, int errno) {
        return new IOException(call + " failed: " + LibC.strerror(errno) + " (errno " + errno + ")");
    }

    /**
     * The JDK's public hook for making a blocking operation interruptible: between {@code begin()} and
     * {@code end()}, {@code Thread.interrupt()} calls {@link #wakeup()}. Only that part of a Selector is used.
     */
    private static final class InterruptHook extends AbstractSelector {
        private final EpollPoller poller;

        InterruptHook(EpollPoller poller) {
            super(null);
            this.poller = poller;
        }

        void beginBlocking() {
            begin();
        }

        void endBlocking() {
            end();
        }

        @Override
        public Selector wakeup() {
            poller.wakeup();
            return this;
        }

        @Override
        protected void implCloseSelector() {
        }

        @Override
        protected SelectionKey register(AbstractSelectableChannel ch, int ops, Object att) {
            throw new UnsupportedOperationException();
        }

        @Override
        public Set<SelectionKey> keys() {
            throw new UnsupportedOperationException();
        }

        @Override
        public Set<SelectionKey> selectedKeys() {
            throw new UnsupportedOperationException();
        }

        @Override
        public int selectNow() {
            throw new UnsupportedOperationException();
        }

        @Override
        public int select(long timeout) {
            throw new UnsupportedOperationException();
        }

        @Override
        public int select() {
            throw new UnsupportedOperationException();
        }
    }

    private static final class EpollKey extends PollKey {
        final int fd;
        final int slot;
        /** The event's user data: the slot, and in the high half the registration's serial number. */
        final long data;
        int mask;
        /** In the kernel's epoll set: only while the mask is not empty. */
        boolean inKernel;
        boolean removed;

        EpollKey(SelectableChannel channel, Object attachment, int events, int fd, int slot, int serial) {
            super(channel, attachment, events);
            this.fd = fd;
            this.slot = slot;
            this.data = (long) serial << 32 | slot;
            this.mask = epollMask(events);
        }

        @Override
        public boolean isLive() {
            return !removed && (channel() == null || channel().isOpen());
        }
    }
}
