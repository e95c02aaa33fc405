package org.ntk4j.io;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class JsonReportTest {
    @TempDir
    Path dir;

    /** What {@link JsonReport#write} writes, {@link JsonReport#read} reads back: every value type, in order. */
    @Test
    void readsBackWhatItWrites() throws Exception {
        Path f = dir.resolve("r.json");
        new JsonReport().put("name", "a \"quoted\" \\ path\nwith\ttabs \u0001").put("count", 42).put("big", -7L)
                .put("rounded", 1.0 / 3).putExact("exact", 1.0 / 3).putExact("tiny", 1e-300)
                .putExact("infinite", Double.POSITIVE_INFINITY).put("flag", false).put("widths", new int[] {8, -2})
                .put("none", new int[0]).put("missing", null).write(f);
        JsonReport r = JsonReport.read(f);
        assertThat(r.keys()).containsExactly("name", "count", "big", "rounded", "exact", "tiny", "infinite", "flag",
                "widths", "none", "missing");
        assertThat(r.get("name")).isEqualTo("a \"quoted\" \\ path\nwith\ttabs \u0001");
        assertThat(r.get("count")).isEqualTo(42L);
        assertThat(r.get("big")).isEqualTo(-7L);
        assertThat((Double) r.get("rounded")).isEqualTo(0.333333);
        assertThat(r.get("exact")).isEqualTo(1.0 / 3);
        assertThat(r.get("tiny")).isEqualTo(1e-300);
        assertThat(r.get("infinite")).isNull();
        assertThat(r.has("infinite")).isTrue();
        assertThat(r.has("absent")).isFalse();
        assertThat(r.get("flag")).isEqualTo(false);
        assertThat((int[]) r.get("widths")).containsExactly(8, -2);
        assertThat((int[]) r.get("none")).isEmpty();
        assertThat(r.get("missing")).isNull();
        assertThat(Files.readString(f, StandardCharsets.UTF_8)).contains("\"exact\": 0.3333333333333333,\n")
                .contains("\"rounded\": 0.333333,\n");
    }

    /**
     * {@link JsonReport#putExact} writes the shortest decimal that reads back as the same double: the edge cases and
     * 2000 doubles of random bit patterns, in one report.
     */
    @Test
    void exactDoublesReadBackBitForBit() throws Exception {
        java.util.Random random = new java.util.Random(11);
        double[] v = new double[2008];
        double[] edges = {0.0, -0.0, Double.MIN_VALUE, -Double.MIN_NORMAL, Double.MAX_VALUE, 1e23, 0.1, -1.0 / 3};
        System.arraycopy(edges, 0, v, 0, edges.length);
        for (int i = edges.length; i < v.length; i++) {
            do {
                v[i] = Double.longBitsToDouble(random.nextLong());
            } while (!Double.isFinite(v[i]));
        }
        JsonReport json = new JsonReport();
        for (int i = 0; i < v.length; i++) {
            json.putExact("v" + i, v[i]);
        }
        Path f = dir.resolve("exact.json");
        json.write(f);
        JsonReport back = JsonReport.read(f);
        for (int i = 0; i < v.length; i++) {
            assertThat(Double.doubleToLongBits((Double) back.get("v" + i))).as("%s", v[i])
                    .isEqualTo(Double.doubleToLongBits(v[i]));
        }
    }

    @Test
    void textThatIsNotAFlatReportIsOneLineNamingTheFile() throws Exception {
        Path f = dir.resolve("bad.json");
        for (String text : new String[] {"", "{\"a\": 1", "{\"a\": {\"b\": 1}}", "{\"a\": [1.5]}", "[1]",
            "{\"a\": 1} x", "{\"a\" 1}", "{\"a\": \"open}"}) {
            Files.writeString(f, text, StandardCharsets.UTF_8);
            assertThatThrownBy(() -> JsonReport.read(f)).as(text).isInstanceOf(DataFormatException.class)
                    .hasMessageStartingWith(f + ": not a flat JSON report as ntk4j writes them (expected ")
                    .satisfies(e -> assertThat(e.getMessage()).doesNotContain("\n"));
        }
        // a binary file (a kernel .npy given as a report): the decoder's "Input length = 1" named nothing
        Files.write(f, new byte[] {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0});
        assertThatThrownBy(() -> JsonReport.read(f)).isInstanceOf(DataFormatException.class)
                .hasMessage(f + ": not a flat JSON report as ntk4j writes them (not UTF-8 text)");
    }
}
