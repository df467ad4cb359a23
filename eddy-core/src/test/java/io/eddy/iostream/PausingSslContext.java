package io.eddy.iostream;

import java.nio.ByteBuffer;
import java.security.KeyManagementException;
import java.security.SecureRandom;
import javax.net.ssl.KeyManager;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLContextSpi;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLEngineResult;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLServerSocketFactory;
import javax.net.ssl.SSLSession;
import javax.net.ssl.SSLSessionContext;
import javax.net.ssl.SSLSocketFactory;
import javax.net.ssl.TrustManager;

/**
 * An SSLContext whose engines run {@code pause} once, on the engine's thread, the first time the engine
 * waits for the peer after it has sent something: for a TLS 1.3 server, right after its whole flight went
 * out and before it reads the client's Finished. A test uses the pause to let the client's Finished and its
 * first data arrive together, so that the server's handshake ends with application data already read.
 */
final class PausingSslContext extends SSLContext {

    PausingSslContext(SSLContext real, Runnable pause) {
        super(new Spi(real, pause), real.getProvider(), real.getProtocol());
    }

    private static final class Spi extends SSLContextSpi {
        private final SSLContext real;
        private final Runnable pause;

        Spi(SSLContext real, Runnable pause) {
            this.real = real;
            this.pause = pause;
        }

        @Override
        protected void engineInit(KeyManager[] km, TrustManager[] tm, SecureRandom random) throws KeyManagementException {
            throw new KeyManagementException("initialised already");
        }

        @Override
        protected SSLSocketFactory engineGetSocketFactory() {
            return real.getSocketFactory();
        }

        @Override
        protected SSLServerSocketFactory engineGetServerSocketFactory() {
            return real.getServerSocketFactory();
        }

        @Override
        protected SSLEngine engineCreateSSLEngine() {
            return new PausingEngine(real.createSSLEngine(), pause);
        }

        @Override
        protected SSLEngine engineCreateSSLEngine(String host, int port) {
            return new PausingEngine(real.createSSLEngine(host, port), pause);
        }

        @Override
        protected SSLSessionContext engineGetServerSessionContext() {
            return real.getServerSessionContext();
        }

        @Override
        protected SSLSessionContext engineGetClientSessionContext() {
            return real.getClientSessionContext();
        }
    }

    /** Delegates everything; runs the pause once in {@link #getHandshakeStatus()}. */
    private static final class PausingEngine extends SSLEngine {
        private final SSLEngine real;
        private final Runnable pause;
        private boolean wrote;
        private boolean paused;

        PausingEngine(SSLEngine real, Runnable pause) {
            super(real.getPeerHost(), real.getPeerPort());
            this.real = real;
            this.pause = pause;
        }

        @Override
        public SSLEngineResult.HandshakeStatus getHandshakeStatus() {
            SSLEngineResult.HandshakeStatus status = real.getHandshakeStatus();
            if (wrote && !paused && status == SSLEngineResult.HandshakeStatus.NEED_UNWRAP) {
                paused = true;
                pause.run();
            }
            return status;
        }

        @Override
        public SSLEngineResult wrap(ByteBuffer[] srcs, int offset, int length, ByteBuffer dst) throws SSLException {
            SSLEngineResult r = real.wrap(srcs, offset, length, dst);
            wrote |= r.bytesProduced() > 0;
            return r;
        }

        @Override
        public SSLEngineResult unwrap(ByteBuffer src, ByteBuffer[] dsts, int offset, int length) throws SSLException {
            return real.unwrap(src, dsts, offset, length);
        }

        @Override
        public Runnable getDelegatedTask() {
            return real.getDelegatedTask();
        }

        @Override
        public void closeInbound() throws SSLException {
            real.closeInbound();
        }

        @Override
        public boolean isInboundDone() {
            return real.isInboundDone();
        }

        @Override
        public void closeOutbound() {
            real.closeOutbound();
        }

        @Override
        public boolean isOutboundDone() {
            return real.isOutboundDone();
        }

        @Override
        public String[] getSupportedCipherSuites() {
            return real.getSupportedCipherSuites();
        }

        @Override
        public String[] getEnabledCipherSuites() {
            return real.getEnabledCipherSuites();
        }

        @Override
        public void setEnabledCipherSuites(String[] suites) {
            real.setEnabledCipherSuites(suites);
        }

        @Override
        public String[] getSupportedProtocols() {
            return real.getSupportedProtocols();
        }

        @Override
        public String[] getEnabledProtocols() {
            return real.getEnabledProtocols();
        }

        @Override
        public void setEnabledProtocols(String[] protocols) {
            real.setEnabledProtocols(protocols);
        }

        @Override
        public SSLSession getSession() {
            return real.getSession();
        }

        @Override
        public void beginHandshake() throws SSLException {
            real.beginHandshake();
        }

        @Override
        public void setUseClientMode(boolean mode) {
            real.setUseClientMode(mode);
        }

        @Override
        public boolean getUseClientMode() {
            return real.getUseClientMode();
        }

        @Override
        public void setNeedClientAuth(boolean need) {
            real.setNeedClientAuth(need);
        }

        @Override
        public boolean getNeedClientAuth() {
            return real.getNeedClientAuth();
        }

        @Override
        public void setWantClientAuth(boolean want) {
            real.setWantClientAuth(want);
        }

        @Override
        public boolean getWantClientAuth() {
            return real.getWantClientAuth();
        }

        @Override
        public void setEnableSessionCreation(boolean flag) {
            real.setEnableSessionCreation(flag);
        }

        @Override
        public boolean getEnableSessionCreation() {
            return real.getEnableSessionCreation();
        }

        @Override
        public javax.net.ssl.SSLParameters getSSLParameters() {
            return real.getSSLParameters();
        }

        @Override
        public void setSSLParameters(javax.net.ssl.SSLParameters params) {
            real.setSSLParameters(params);
        }
    }
}
