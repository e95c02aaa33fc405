package org.ntk4j.io;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/**
 * Input data named on the command line:
 * <ul>
 *   <li>{@code synthetic:N,D1[,D2,...]}: N seeded standard-normal examples of shape [D1, D2, ...];</li>
 *   <li>a path to a {@code .npy} file whose first axis indexes the examples (any float or integer dtype,
 *       converted to the requested dtype).</li>
 * </ul>
 */
public final class DataSource {
    private DataSource() {
    }

    /** Loads {@code spec} as a batch [N, ...] of the given dtype; NaN or Inf in the data is an error. */
    public static Tensor load(String spec, DType dtype, long seed) throws IOException {
        String s = spec.trim();
        Tensor t;
        if (s.toLowerCase(Locale.ROOT).startsWith("synthetic:")) {
            t = synthetic(s, dtype, seed);
        } else if (s.endsWith(".npy")) {
            Path p = Path.of(s);
            if (!Files.exists(p)) {
                throw new IllegalArgumentException("data: file not found: " + p);
            }
            t = Npy.readTensor(p, dtype);
        } else {
            throw new IllegalArgumentException("data: unknown source '" + spec
                    + "'; expected synthetic:N,D1[,D2,...] or a .npy file");
        }
        if (t.rank() < 1 || t.dim(0) < 1) {
            t.close();
            throw new IllegalArgumentException("data: '" + spec + "' has no examples (shape "
                    + java.util.Arrays.toString(t.shape()) + ")");
        }
        int bad = t.firstNonFinite();
        if (bad >= 0) {
            double v = t.getFlat(bad);
            t.close();
            throw new IllegalArgumentException("data: '" + spec + "' contains " + v + " at flat index " + bad);
        }
        return t;
    }

    private static Tensor synthetic(String s, DType dtype, long seed) {
        String body = s.substring("synthetic:".length());
        String[] parts = body.split(",");
        int[] shape = new int[parts.length];
        try {
            for (int i = 0; i < parts.length; i++) {
                shape[i] = Integer.parseInt(parts[i].trim());
                if (shape[i] < 1) {
                    throw new NumberFormatException();
                }
            }
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("data: '" + s + "': expected synthetic:N,D1[,D2,...] with positive "
                    + "integers");
        }
        if (shape.length < 2) {
            throw new IllegalArgumentException("data: '" + s + "': give the number of examples and at least one "
                    + "dimension, e.g. synthetic:64,784");
        }
        return Tensor.randomNormal(dtype, seed * 31 + 17, shape);
    }
}
