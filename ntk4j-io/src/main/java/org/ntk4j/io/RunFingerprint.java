package org.ntk4j.io;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
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
 */
public final class RunFingerprint {
    private RunFingerprint() {
    }

    /**
     * The fingerprint of a run.
     *
     * @param modelSpec the model's spec string
     * @param params the network parameters, then their buffers, each hashed in name order
     * @param x1 the first data set
     * @param x2 the second data set; null means x2 = x1 (which hashes differently from passing x1 again)
     * @return the fingerprint, 64 lower-case hex digits
     */

    public static String of(String modelSpec, Params params, Tensor x1, Tensor x2) {
        MessageDigest md;
        try {
            md = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is part of every Java platform", e);
        }
        text(md, "model " + modelSpec);
        for (Map.Entry<String, Tensor> e : new TreeMap<>(params.tensors()).entrySet()) {
            text(md, "param " + e.getKey());
            tensor(md, e.getValue());
        }
        // a model's buffers (running statistics) change the kernel as parameters do; none: the digest of before
        for (Map.Entry<String, Tensor> e : new TreeMap<>(params.buffers()).entrySet()) {
            text(md, "buffer " + e.getKey());
            tensor(md, e.getValue());
        }
        text(md, "x1");
        tensor(md, x1);
        if (x2 == null) {
            text(md, "x2 = x1");
        } else {
            text(md, "x2");
            tensor(md, x2);
        }
        StringBuilder sb = new StringBuilder();
        for (byte b : md.digest()) {
            sb.append(String.format("%02x", b));
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
