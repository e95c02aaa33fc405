package org.ntk4j.examples;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Runs every example's main on small sizes and checks what it prints (docs/examples.md shows full-size runs). */
class ExamplesTest {
    @TempDir
    Path dir;

    /** The example's standard output. */
    interface Main {
        void run() throws Exception;
    }

    static String stdout(Main main) throws Exception {
        PrintStream old = System.out;
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        System.setOut(new PrintStream(bytes, true, StandardCharsets.UTF_8));
        try {
            main.run();
        } finally {
            System.setOut(old);
        }
        String out = bytes.toString(StandardCharsets.UTF_8);
        old.print(out);
        return out;
    }

    /** The number after {@code label} in {@code text}. */
    static double number(String text, String label) {
        Matcher m = Pattern.compile(Pattern.quote(label) + "\\s*([-+0-9.eE]+)").matcher(text);
        assertThat(m.find()).as("'%s' in the output", label).isTrue();
        return Double.parseDouble(m.group(1));
    }

    @Test
    void fashionMnistPntkBeatsChanceByFar() throws Exception {
        String out = stdout(() -> FashionMnistPntk.main(new String[] {"200", "100", "64"}));
        assertThat(out).contains("pntk train-train [200, 200], test-train [100, 200]");
        // 10 classes (chance 0.1); 200 training images give about 0.7
        assertThat(number(out, "test accuracy")).isGreaterThan(0.55);
    }

    @Test
    void sgdCheckpointsLowerTheLossAndWriteEveryEpoch() throws Exception {
        Path out = dir.resolve("ckpt");
        String text = stdout(() -> SgdCheckpoints.main(new String[] {out.toString(), "default:train:256", "2", "16",
            "fcn(depth=1,out=10)"}));
        assertThat(number(text, "width 16 epoch 2: mean train loss"))
                .isLessThan(number(text, "width 16 epoch 1: mean train loss"));
        for (int e = 0; e <= 2; e++) {
            assertThat(out.resolve("w16").resolve("epoch-" + e + ".npz")).isRegularFile();
        }
    }

    @Test
    void threeMethodsAgreeInFloat64() throws Exception {
        String out = stdout(() -> ThreeMethods.main(new String[] {"4", "4"}));
        assertThat(out).contains("AUTO runs ").contains("jc: kernel [4, 4, 10, 10]");
        assertThat(out).contains("structured_derivatives (sd)").contains("jacobian_contraction (jc)");
        assertThat(number(out, "vp vs jc")).isLessThan(1e-10);
        assertThat(number(out, "sd vs jc")).isLessThan(1e-10);
    }

    @Test
    void customPrimitiveHasCorrectDerivativesAndAStructure() throws Exception {
        String out = stdout(() -> CustomLayerAndPrimitive.main(new String[] {"3", "8"}));
        assertThat(out).contains("scale[c=0.5]").contains("softsign");
        assertThat(number(out, "jvp vs finite differences")).isLessThan(1e-6);
        assertThat(number(out, "adjoint gap")).isLessThan(1e-10);
        assertThat(out).contains("kernel [3, 3, 3, 3]");
        assertThat(number(out, "vp vs jc")).isLessThan(1e-10);
        assertThat(number(out, "sd vs jc")).isLessThan(1e-10);
        // all six parameters (3 × w, b) structured with the rule; without it the three w go to the fallback
        assertThat(out).contains("with the structure rule:    6 of 6 parameters structured, 0 through")
                .contains("without the structure rule: 3 of 6 parameters structured, 3 through");
    }

    @Test
    void tiledFileEqualsTheKernelInMemory() throws Exception {
        Path out = dir.resolve("k.npy");
        String text = stdout(() -> TiledKernelToFile.main(new String[] {"100", out.toString()}));
        assertThat(text).contains("grid 3 × 3, upper triangle mirrored").contains("computed 6 tiles");
        assertThat(text).contains("file [100, 100]");
        assertThat(number(text, "in-memory kernel")).isLessThan(1e-12);
        assertThat(Files.exists(out)).isTrue();
        assertThat(Files.exists(dir.resolve("k.npy.partial"))).isFalse();
    }

    @Test
    void spectrumAndPngCharts() throws Exception {
        String out = stdout(() -> SpectrumAndPlot.main(new String[] {"60", dir.toString()}));
        assertThat(out).contains("kernel 60 × 60");
        assertThat(number(out, "λ_max")).isGreaterThan(number(out, "λ_min"));
        assertThat(number(out, "effective rank")).isBetween(1.0, 60.0);
        for (String png : new String[] {"spectrum.png", "kernel.png"}) {
            byte[] head = Files.readAllBytes(dir.resolve(png));
            assertThat(head.length).isGreaterThan(1000);
            assertThat(new String(head, 1, 3, StandardCharsets.US_ASCII)).isEqualTo("PNG");
        }
    }

    @Test
    void sparkKernelAsBlockMatrix() throws Exception {
        String out = stdout(() -> SparkBlockMatrix.main(new String[] {"70", "local[2]"}));
        assertThat(out).contains("spark: 6 tiles");
        assertThat(out).contains("BlockMatrix 70 × 70 in 3 × 3 blocks");
        assertThat(out).contains("row sums Θ·1: 70 values");
        assertThat(number(out, "max relative difference to local")).isLessThan(1e-12);
    }
}
