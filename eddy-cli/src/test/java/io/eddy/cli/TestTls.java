package io.eddy.cli;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.security.GeneralSecurityException;
import java.security.cert.X509Certificate;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManager;
import javax.net.ssl.X509TrustManager;

/**
 * TLS for tests outside this package: the server context of {@code eddy echo --tls} (a self-signed
 * certificate for localhost and 127.0.0.1, made once per test JVM), and a client context that trusts any
 * server (the tests' clients connect to a certificate made a moment ago). Any thread.
 */
public final class TestTls {

    private static volatile SSLContext server;

    private TestTls() {
    }

    /** The server context of {@code eddy echo --tls}; made on first use (keytool runs once). */
    public static SSLContext serverContext() {
        SSLContext ctx = server;
        if (ctx == null) {
            synchronized (TestTls.class) {
                if (server == null) {
                    try {
                        server = ServerCertificate.selfSigned().context();
                    } catch (IOException e) {
                        throw new UncheckedIOException(e);
                    } catch (GeneralSecurityException e) {
                        throw new IllegalStateException(e);
                    }
                }
                ctx = server;
            }
        }
        return ctx;
    }

    /** A client context that accepts any server certificate: for tests only. A new one per call (no shared session cache). */
    public static SSLContext clientTrustingAnyServer() {
        TrustManager trustAll = new X509TrustManager() {
            @Override
            public void checkClientTrusted(X509Certificate[] chain, String authType) {
            }

            @Override
            public void checkServerTrusted(X509Certificate[] chain, String authType) {
            }

            @Override
            public X509Certificate[] getAcceptedIssuers() {
                return new X509Certificate[0];
            }
        };
        try {
            SSLContext ctx = SSLContext.getInstance("TLS");
            ctx.init(null, new TrustManager[]{trustAll}, null);
            return ctx;
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }
}
