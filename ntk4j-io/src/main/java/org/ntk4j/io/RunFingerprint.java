package org.ntk4j.io;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Map;
import java.util.TreeMap;
import org.ntk4j.nn.Params;
import org.ntk4j.tensor.Tensor;

/**
 * A SHA-256 fingerprint of what a kernel run computes from: the model spec, every parameter (name, shape,
 * dtype, bytes) and the data x1 and x2 (shape, dtype, bytes; x2 = x1 recorded as such). A resumed run whose
 * fingerprint differs from its manifest's would mix tiles of two different kernels, so {@link TileStore}
 * refuses it.
 *
 * <p>A zoo spec names its network; an ONNX spec ({@code onnx:FILE[?options]}, as {@code OnnxSpec} writes it) names
 * a file, whose graph and constants may change under the same name and the same parameters (an activation swapped,
 * a frozen weight retrained). Its model part therefore also hashes the bytes of FILE, read when the fingerprint is
 * taken (external data files are not read: the parameters they hold are hashed as parameters).
 */
public final class RunFingerprint {
    private RunFingerprint() {
    }

    /**
     * The fingerprint of a run.
     *
     * @param modelSpec the model's spec string (an {@code onnx:} spec: with the bytes of the file it names)
     * @param params the network parameters, then their buffers, each hashed in name order
     * @param x1 the first data set
     * @param x2 the second data set; null means x2 = x1 (which hashes differently from passing x1 again)
     * @return the fingerprint, 64 lower-case hex digits
     * @throws UncheckedIOException if the ONNX file an {@code onnx:} spec names cannot be read
     */
    public static String of(String modelSpec, Params params, Tensor x1, Tensor x2) {
        MessageDigest md = sha256();
        model(md, modelSpec);
        params(md, params);
        x1(md, x1);
        x2(md, x2);
        return hex(md.digest(), 32);
    }

    /**
     * The fingerprints of the parts of a run, each hashed alone as {@link #of} hashes it within the whole, so that
     * a resumed run whose {@link #of} differs from its manifest's can say which part differs.
     *
     * @param modelSpec the model's spec string
     * @param params the network parameters and buffers
     * @param x1 the first data set
     * @param x2 the second data set; null means x2 = x1
     * @return "model=H parameters=H x1=H x2=H", each H the first 16 hex digits of the part's SHA-256 (x2 = x1: the
     *     part is hashed as such, so a given x2 and none differ)
     * @throws UncheckedIOException if the ONNX file an {@code onnx:} spec names cannot be read
     */
    public static String parts(String modelSpec, Params params, Tensor x1, Tensor x2) {
        MessageDigest md = sha256();
        model(md, modelSpec);
        String model = hex(md.digest(), PART_BYTES);
        params(md, params);
        String parameters = hex(md.digest(), PART_BYTES);
        x1(md, x1);
        String first = hex(md.digest(), PART_BYTES);
        x2(md, x2);
        return PARTS[0] + "=" + model + " " + PARTS[1] + "=" + parameters + " " + PARTS[2] + "=" + first + " "
                + PARTS[3] + "=" + hex(md.digest(), PART_BYTES);
    }

    /**
     * The fingerprint of one data set alone, hashed as {@link #of} hashes x1: for a run that computes from data
     * and a seed rather than from given parameters, whose resume must refuse inputs that changed under the same
     * data-source spec.
     *
     * @param x the data
     * @return the first 16 hex digits of its SHA-256
     */
    public static String ofData(Tensor x) {
        MessageDigest md = sha256();
        x1(md, x);
        return hex(md.digest(), PART_BYTES);
    }

    /**
     * The fingerprint of the model alone, hashed as {@link #of} hashes it within the whole (an {@code onnx:} spec
     * with the bytes of its file): for a process that rebuilds the model from its spec (a Spark executor) to check
     * that it reads the model the run's fingerprint was taken of.
     *
     * @param modelSpec the model's spec string
     * @return 64 lower-case hex digits
     * @throws UncheckedIOException if the ONNX file an {@code onnx:} spec names cannot be read
     */
    public static String ofModel(String modelSpec) {
        MessageDigest md = sha256();
        model(md, modelSpec);
        return hex(md.digest(), 32);
    }

    /** The names of {@link #parts}, in order. */
    private static final String[] PARTS = {"model", "parameters", "x1", "x2"};
    /** Bytes of SHA-256 kept for each part (a part's identity, not a security check). */
    private static final int PART_BYTES = 8;

    /**
     * What differs between two {@link #parts} strings, for a message: "x1 differs", "the model and the parameters
     * differ".
     *
     * @param recorded the parts recorded for a run
     * @param now the parts of this run
     * @return the parts that differ, named in words, or null when none differs or either string is not a
     *     {@link #parts} string (a manifest written before the parts were recorded)
     */
    public static String differences(String recorded, String now) {
        if (recorded == null || now == null) {
            return null;
        }
        String[] a = recorded.split(" ");
        String[] b = now.split(" ");
        if (a.length != PARTS.length || b.length != PARTS.length) {
            return null;
        }
        java.util.List<String> differ = new java.util.ArrayList<>();
        for (int i = 0; i < PARTS.length; i++) {
            if (!a[i].startsWith(PARTS[i] + "=") || !b[i].startsWith(PARTS[i] + "=")) {
                return null;
            }
            if (!a[i].equals(b[i])) {
                differ.add(i < 2 ? "the " + PARTS[i] : PARTS[i]);
            }
        }
        if (differ.isEmpty()) {
            return null;
        }
        return String.join(" and ", differ) + (differ.size() == 1 && !differ.get(0).equals("the parameters")
                ? " differs" : " differ");
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is part of every Java platform", e);
        }
    }

    private static void model(MessageDigest md, String modelSpec) {
        text(md, "model " + modelSpec);
        Path onnx = onnxFile(modelSpec);
        if (onnx != null) {
            // the same spec and parameters with another graph is another kernel (a zoo spec's hash is as before)
            text(md, "onnx file");
            try (InputStream in = Files.newInputStream(onnx)) {
                byte[] buffer = new byte[1 << 16];
                for (int r = in.read(buffer); r >= 0; r = in.read(buffer)) {
                    md.update(buffer, 0, r);
                }
            } catch (IOException e) {
                throw new UncheckedIOException("model " + modelSpec + ": cannot read " + onnx + " to fingerprint the "
                        + "run: " + e.getMessage(), e);
            }
        }
    }

    /** The file an ONNX spec names ({@code onnx:FILE[?options]}, FILE's % and ? written %25 and %3F), else null. */
    private static Path onnxFile(String modelSpec) {
        if (!modelSpec.startsWith(ONNX_PREFIX)) {
            return null;
        }
        String s = modelSpec.substring(ONNX_PREFIX.length());
        int q = s.indexOf('?');
        return Path.of((q < 0 ? s : s.substring(0, q)).replace("%3F", "?").replace("%25", "%"));
    }

    /** The prefix of an ONNX model's spec ({@code org.ntk4j.onnx.OnnxSpec.PREFIX}, a module this one precedes). */
    private static final String ONNX_PREFIX = "onnx:";

    private static void params(MessageDigest md, Params params) {
        for (Map.Entry<String, Tensor> e : new TreeMap<>(params.tensors()).entrySet()) {
            text(md, "param " + e.getKey());
            tensor(md, e.getValue());
        }
        // a model's buffers (running statistics) change the kernel as parameters do; none: the digest of before
        for (Map.Entry<String, Tensor> e : new TreeMap<>(params.buffers()).entrySet()) {
            text(md, "buffer " + e.getKey());
            tensor(md, e.getValue());
        }
    }

    private static void x1(MessageDigest md, Tensor x1) {
        text(md, "x1");
        tensor(md, x1);
    }

    private static void x2(MessageDigest md, Tensor x2) {
        if (x2 == null) {
            text(md, "x2 = x1");
        } else {
            text(md, "x2");
            tensor(md, x2);
        }
    }

    /** The first {@code bytes} bytes of a digest in lower-case hex. */
    private static String hex(byte[] digest, int bytes) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < bytes; i++) {
            sb.append(String.format("%02x", digest[i]));
        }
        return sb.toString();
    }

    private static void text(MessageDigest md, String s) {
        md.update(s.getBytes(StandardCharsets.UTF_8));
        md.update((byte) 0);
    }

    private static void tensor(MessageDigest md, Tensor t) {
        text(md, t.dtype().shortName() + " " + java.util.Arrays.toString(t.shape()));
        ByteBuffer b = t.pointer().asByteBuffer();
        b.limit((int) t.bytes()).position(0);
        md.update(b);
    }
}
