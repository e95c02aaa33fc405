package org.ntk4j.infinite;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.ntk4j.tensor.Tensor;

/** The NumPy oracles' output files (test resources of this package): lines of space-separated tokens. */
final class OracleFile {
    private OracleFile() {
    }

    /** The resource's lines, each split at its spaces. */
    static List<String[]> lines(String resource) throws IOException {
        List<String[]> lines = new ArrayList<>();
        try (InputStream s = OracleFile.class.getResourceAsStream(resource);
             BufferedReader r = new BufferedReader(new InputStreamReader(s, StandardCharsets.UTF_8))) {
            for (String line = r.readLine(); line != null; line = r.readLine()) {
                lines.add(line.split(" "));
            }
        }
        return lines;
    }

    /** A line "name N H W C v..." as the images [N, H, W, C] it holds. */
    static Tensor images(String[] t) {
        int[] shape = new int[4];
        for (int a = 0; a < 4; a++) {
            shape[a] = Integer.parseInt(t[1 + a]);
        }
        return Tensor.of(Arrays.stream(t, 5, t.length).mapToDouble(Double::parseDouble).toArray(), shape);
    }
}
