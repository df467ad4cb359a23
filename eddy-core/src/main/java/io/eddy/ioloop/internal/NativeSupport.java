package io.eddy.ioloop.internal;

import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.nio.channels.SelectableChannel;
import java.util.Locale;

/**
 * Whether the epoll backend can run in this JVM, and the one JDK-internal thing it needs: the file
 * descriptor of a JDK channel ({@code sun.nio.ch.SelChImpl.getFDVal()}), so that {@code addHandler} keeps
 * working on JDK channels. Decided once, when the class loads.
 */
public final class NativeSupport {

    private static final String UNAVAILABLE = check();
    private static final MethodHandle FD_VAL = UNAVAILABLE == null ? fdValHandle() : null;

    private NativeSupport() {
    }

    /** Null if {@code epoll} can run here, else what is missing, phrased as what to do about it. */
    public static String unavailableReason() {
        return UNAVAILABLE;
    }

    /** The file descriptor behind a JDK channel. Only when {@link #unavailableReason()} is null. */
    public static int fdOf(SelectableChannel channel) {
        try {
            return (int) FD_VAL.invoke(channel);
        } catch (Throwable t) {
            throw new IllegalArgumentException("cannot find the file descriptor of " + channel, t);
        }
    }

    private static String check() {
        String os = System.getProperty("os.name", "").toLowerCase(Locale.ROOT);
        if (!os.startsWith("linux")) {
            return "epoll is Linux only (this is " + System.getProperty("os.name") + ")";
        }
        String arch = System.getProperty("os.arch", "");
        if (!arch.equals("amd64") && !arch.equals("x86_64") && !arch.equals("aarch64")) {
            return "the epoll backend supports x86_64 and aarch64 (this is " + arch + ")";
        }
        Module self = NativeSupport.class.getModule();
        String who = self.isNamed() ? self.getName() : "ALL-UNNAMED";
        if (!self.isNativeAccessEnabled()) {
            return "native access is not enabled for " + (self.isNamed() ? "module " + who : "the class path")
                    + ": start java with --enable-native-access=" + who;
        }
        if (!Object.class.getModule().isExported("sun.nio.ch", self)) {
            return "java.base does not export sun.nio.ch to " + (self.isNamed() ? "module " + who : "the class path")
                    + " (the epoll loop needs it to watch JDK channels): start java with --add-exports java.base/sun.nio.ch=" + who;
        }
        try {
            fdValHandle();
            Class.forName("io.eddy.ioloop.internal.LibC", true, NativeSupport.class.getClassLoader());
        } catch (Throwable t) {
            return "the epoll backend failed to link: " + t;
        }
        return null;
    }

    private static MethodHandle fdValHandle() {
        try {
            Class<?> selChImpl = Class.forName("sun.nio.ch.SelChImpl");
            return MethodHandles.lookup().findVirtual(selChImpl, "getFDVal", MethodType.methodType(int.class))
                    .asType(MethodType.methodType(int.class, SelectableChannel.class));
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException("sun.nio.ch.SelChImpl.getFDVal() not found", e);
        }
    }
}
