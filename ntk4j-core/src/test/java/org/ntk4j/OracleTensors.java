package org.ntk4j;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import org.ntk4j.tensor.Tensor;

/**
 * A Python oracle's output file (a test resource beside the test class): lines "NAME KEY SHAPE v..." where SHAPE is
 * comma-separated ("-" for a scalar), held as float64 tensors under "NAME KEY", in file order; closed with them.
 */
public final class OracleTensors implements AutoCloseable {
    private final Map<String, Tensor> tensors = new LinkedHashMap<>();

    private OracleTensors() {
    }

    /** Reads {@code resource} beside {@code owner}. */
    public static OracleTensors load(Class<?> owner, String resource) throws IOException {
        OracleTensors o = new OracleTensors();
        try (InputStream s = owner.getResourceAsStream(resource);
             BufferedReader r = new BufferedReader(new InputStreamReader(s, StandardCharsets.UTF_8))) {
            for (String line = r.readLine(); line != null; line = r.readLine()) {
                String[] t = line.split(" ");
                int[] shape = t[2].equals("-") ? new int[0]
                        : Arrays.stream(t[2].split(",")).mapToInt(Integer::parseInt).toArray();
                double[] v = new double[t.length - 3];
                for (int i = 0; i < v.length; i++) {
                    v[i] = Double.parseDouble(t[i + 3]);
                }
                Tensor old = o.tensors.put(t[0] + " " + t[1], Tensor.of(v, shape));
                assertThat(old).as("%s: entry %s %s given twice", resource, t[0], t[1]).isNull();
            }
        }
        return o;
    }

    /** The entry under {@code key}, which must be there. */
    public Tensor get(String key) {
        Tensor t = tensors.get(key);
        assertThat(t).as("oracle entry " + key).isNotNull();
        return t;
    }

    /** Every entry, by key, in file order. */
    public Map<String, Tensor> entries() {
        return Collections.unmodifiableMap(tensors);
    }

    @Override
    public void close() {
        tensors.values().forEach(Tensor::close);
    }
}
