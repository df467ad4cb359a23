package io.eddy.cli;

import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.KeyStore;
import java.security.MessageDigest;
import java.security.PrivateKey;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;

/**
 * The TLS identity of {@code eddy echo --tls}: a certificate and key from PEM files, or a self-signed
 * certificate for localhost and 127.0.0.1 made at start-up with the JDK's own {@code keytool} (so the
 * command needs no cryptography library). Called once, on the main thread, before the server starts.
 *
 * @param context     the server's SSLContext
 * @param certificate the server's certificate
 */
record ServerCertificate(SSLContext context, X509Certificate certificate) {

    private static final char[] PASSWORD = "eddy-echo".toCharArray();

    /** A new EC P-256 certificate for CN=localhost, SAN localhost and 127.0.0.1, valid 30 days. */
    static ServerCertificate selfSigned() throws IOException, GeneralSecurityException {
        Path dir = Files.createTempDirectory("eddy-tls");
        Path store = dir.resolve("self-signed.p12");
        try {
            Path keytool = Path.of(System.getProperty("java.home"), "bin", "keytool");
            if (!Files.isExecutable(keytool)) {
                throw new IOException("cannot make a self-signed certificate: " + keytool
                        + " is missing (run on a full JDK, or pass --cert and --key)");
            }
            Process p = new ProcessBuilder(keytool.toString(), "-genkeypair", "-alias", "eddy",
                    "-keyalg", "EC", "-groupname", "secp256r1", "-dname", "CN=localhost",
                    "-ext", "SAN=dns:localhost,ip:127.0.0.1", "-validity", "30",
                    "-storetype", "PKCS12", "-keystore", store.toString(), "-storepass", new String(PASSWORD))
                    .redirectErrorStream(true).start();
            p.getOutputStream().close();
            String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            try {
                if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
                    throw new IOException("keytool failed to make a self-signed certificate: " + output.strip());
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted while keytool made a certificate", e);
            }
            KeyStore keyStore = KeyStore.getInstance("PKCS12");
            try (InputStream in = Files.newInputStream(store)) {
                keyStore.load(in, PASSWORD);
            }
            return fromKeyStore(keyStore, (X509Certificate) keyStore.getCertificate("eddy"));
        } finally {
            Files.deleteIfExists(store);
            Files.deleteIfExists(dir);
        }
    }

    /**
     * The certificate chain in {@code certPem} and the PKCS#8 key ("BEGIN PRIVATE KEY", RSA or EC) in
     * {@code keyPem}.
     *
     * @throws IOException naming the file that cannot be read or parsed
     */
    static ServerCertificate fromPem(Path certPem, Path keyPem) throws IOException, GeneralSecurityException {
        List<X509Certificate> chain = new ArrayList<>();
        try (InputStream in = Files.newInputStream(certPem)) {
            for (Certificate c : CertificateFactory.getInstance("X.509").generateCertificates(in)) {
                chain.add((X509Certificate) c);
            }
        } catch (java.security.cert.CertificateException e) {
            throw new IOException(certPem + " holds no PEM certificate: " + e.getMessage(), e);
        }
        if (chain.isEmpty()) {
            throw new IOException(certPem + " holds no PEM certificate");
        }
        PrivateKey key = readKey(keyPem);
        KeyStore keyStore = KeyStore.getInstance("PKCS12");
        keyStore.load(null, null);
        keyStore.setKeyEntry("eddy", key, PASSWORD, chain.toArray(Certificate[]::new));
        return fromKeyStore(keyStore, chain.get(0));
    }

    private static PrivateKey readKey(Path keyPem) throws IOException {
        String pem = Files.readString(keyPem, StandardCharsets.US_ASCII);
        String begin = "-----BEGIN PRIVATE KEY-----";
        String end = "-----END PRIVATE KEY-----";
        int from = pem.indexOf(begin);
        int to = pem.indexOf(end);
        if (from < 0 || to < from) {
            throw new IOException(keyPem + " holds no PKCS#8 key (\"" + begin + "\"); convert it with"
                    + " 'openssl pkcs8 -topk8 -nocrypt -in KEY -out KEY.pk8'");
        }
        byte[] der = Base64.getMimeDecoder().decode(pem.substring(from + begin.length(), to));
        for (String algorithm : new String[] {"RSA", "EC", "Ed25519"}) {
            try {
                return KeyFactory.getInstance(algorithm).generatePrivate(new PKCS8EncodedKeySpec(der));
            } catch (GeneralSecurityException wrongAlgorithm) {
                // try the next
            }
        }
        throw new IOException(keyPem + " holds a PKCS#8 key that is neither RSA, EC nor Ed25519");
    }

    private static ServerCertificate fromKeyStore(KeyStore keyStore, X509Certificate certificate)
            throws GeneralSecurityException {
        KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
        kmf.init(keyStore, PASSWORD);
        SSLContext context = SSLContext.getInstance("TLS");
        context.init(kmf.getKeyManagers(), null, null);
        return new ServerCertificate(context, certificate);
    }

    /** The certificate's SHA-256 fingerprint as colon-separated upper-case hex, as openssl prints it. */
    String fingerprint() {
        try {
            byte[] digest = MessageDigest.getInstance("SHA-256").digest(certificate.getEncoded());
            return HexFormat.ofDelimiter(":").withUpperCase().formatHex(digest);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("SHA-256 is missing from this JDK", e);
        }
    }

    /** "self-signed for CN=localhost" or the subject of a certificate from a file. */
    String describe() {
        return certificate.getSubjectX500Principal().getName().toLowerCase(Locale.ROOT).startsWith("cn=localhost")
                && certificate.getSubjectX500Principal().equals(certificate.getIssuerX500Principal())
                ? "self-signed for localhost, 127.0.0.1" : certificate.getSubjectX500Principal().getName();
    }
}
