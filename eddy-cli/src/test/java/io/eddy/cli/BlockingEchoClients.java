package io.eddy.cli;

import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

/**
 * Concurrent blocking clients of an echo server: each sends its messages one at a time and reads
 * every echo back byte for byte. Used by the in-process and the process tests alike.
 */
final class BlockingEchoClients {

    private static final int SO_TIMEOUT_MILLIS = 10_000;

    private BlockingEchoClients() {
    }

    /**
     * Runs {@code connections} clients at once, each on its own thread, each sending {@code messages}
     * messages; fails with the first client's failure. Every client closes its socket when done.
     */
    static void run(InetSocketAddress server, int connections, int messages) throws Exception {
        try (ExecutorService pool = Executors.newFixedThreadPool(connections)) {
            List<Future<?>> clients = new ArrayList<>();
            for (int c = 0; c < connections; c++) {
                int conn = c;
                clients.add(pool.submit(() -> {
                    client(server, conn, messages);
                    return null;
                }));
            }
            for (Future<?> client : clients) {
                client.get(120, TimeUnit.SECONDS);
            }
        }
    }

    private static void client(InetSocketAddress server, int conn, int messages) throws Exception {
        try (Socket socket = new Socket()) {
            socket.connect(server, SO_TIMEOUT_MILLIS);
            socket.setSoTimeout(SO_TIMEOUT_MILLIS);
            socket.setTcpNoDelay(true);
            OutputStream out = socket.getOutputStream();
            InputStream in = socket.getInputStream();
            for (int i = 0; i < messages; i++) {
                byte[] message = message(conn, i);
                out.write(message);
                byte[] echo = in.readNBytes(message.length);
                assertArrayEquals(message, echo, "echo of message " + i + " of connection " + conn);
            }
        }
    }

    /**
     * "msg-CONN-I\n", and every 100th message a few KB holding every byte value: bigger than one read
     * of the demo, with bytes that are not text.
     */
    static byte[] message(int conn, int i) {
        byte[] text = ("msg-" + conn + "-" + i + "\n").getBytes(StandardCharsets.US_ASCII);
        if (i % 100 != 99) {
            return text;
        }
        byte[] big = new byte[2_000 + (conn * 131 + i * 37) % 4_000];
        System.arraycopy(text, 0, big, 0, text.length);
        for (int k = text.length; k < big.length; k++) {
            big[k] = (byte) (k * 31 + conn);
        }
        return big;
    }
}
