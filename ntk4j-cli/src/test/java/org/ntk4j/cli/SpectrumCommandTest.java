package org.ntk4j.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.ntk4j.cli.CliRuns.run;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ntk4j.io.Npy;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

class SpectrumCommandTest {
    @TempDir
    Path dir;

    @Test
    void printsTheFiguresOfAHandComputedKernel() throws Exception {
        Path k = dir.resolve("k.npy");
        try (Tensor t = Tensor.of(new double[] {2, 1, 1, 2}, 2, 2)) {
            Npy.write(k, t);
        }
        Path ev = dir.resolve("ev.npy");
        String out = run(0, "spectrum", k.toString(), "--eigenvalues-out", ev.toString(), "--report",
                dir.resolve("s.json").toString())[0];
        assertThat(out).contains("λ_max 3.00000, λ_min 1.00000, 0 ≤ 0")
                .contains("trace 4.00000, condition number 3.00000")
                .contains("effective rank 1.755").contains("participation ratio 1.600 ")
                .contains("largest: 3.00000 1.00000");
        try (Tensor e = Npy.readTensor(ev)) {
            assertThat(e.toDoubleArray()).containsExactly(new double[] {1, 3},
                    org.assertj.core.data.Offset.offset(1e-14));
        }
        assertThat(Files.readString(dir.resolve("s.json"))).contains("\"condition_number\": 3.0");
    }

    /**
     * The report's figures are exact (round-trip doubles), against the closed forms of [[2, 1], [1, 3]]: eigenvalues
     * (5 ± √5)/2, trace 5, participation ratio 25/trace(K²) = 5/3, effective rank exp(−Σ p log p) with p = λ/5, to
     * 1e-14 (LAPACK's round-off); to 6 digits λ_max would be 3.61803, 4e-6 off. The console keeps its 6 digits.
     */
    @Test
    void theReportsFiguresAreExactAndTheConsoleKeepsSixDigits() throws Exception {
        Path k = dir.resolve("k.npy");
        try (Tensor t = Tensor.of(new double[] {2, 1, 1, 3}, 2, 2)) {
            Npy.write(k, t);
        }
        Path report = dir.resolve("s.json");
        String out = run(0, "spectrum", k.toString(), "--report", report.toString())[0];
        assertThat(out).contains("λ_max 3.61803, λ_min 1.38197, 0 ≤ 0").contains("trace 5.00000, condition number "
                + "2.61803").contains("participation ratio 1.667 ");
        double big = (5 + Math.sqrt(5)) / 2;
        double small = (5 - Math.sqrt(5)) / 2;
        double entropy = -(big / 5 * Math.log(big / 5) + small / 5 * Math.log(small / 5));
        org.ntk4j.io.JsonReport r = org.ntk4j.io.JsonReport.read(report);
        java.util.function.BiConsumer<String, Double> close = (key, expected) -> assertThat((Double) r.get(key))
                .as(key).isCloseTo(expected, org.assertj.core.data.Offset.offset(1e-14 * Math.abs(expected)));
        close.accept("lambda_max", big);
        close.accept("lambda_min", small);
        close.accept("trace", 5.0);
        close.accept("condition_number", big / small);
        close.accept("participation_ratio", 5.0 / 3);
        close.accept("effective_rank", Math.exp(entropy));
        assertThat((Double) r.get("relative_asymmetry")).isEqualTo(0.0);
        String json = Files.readString(report);
        // every digit a double needs: more than the 6 of the console, not "3.61803"
        assertThat(json).containsPattern("\"lambda_max\": 3\\.61803398874\\d*,")
                .containsPattern("\"participation_ratio\": 1\\.66666666666\\d*,").contains("\"trace\": 5.0,");
    }

    /**
     * A kernel with no positive eigenvalue (−I, closed form: every eigenvalue −1) has none for the spectrum plot's
     * log axis: the plot failed as "spectrum: no positive finite eigenvalue among 2", naming no option, after the
     * heatmap and before --report and --eigenvalues-out; those are written, then --plots refused.
     */
    @Test
    void aKernelWithNoPositiveEigenvalueWritesItsOtherOutputsThenRefusesThePlot() throws Exception {
        Path k = dir.resolve("neg.npy");
        try (Tensor t = Tensor.of(new double[] {-1, 0, 0, -1}, 2, 2)) {
            Npy.write(k, t);
        }
        Path ev = dir.resolve("ev.npy");
        Path report = dir.resolve("s.json");
        Path plots = dir.resolve("plots");
        String[] r = run(2, "spectrum", k.toString(), "--eigenvalues-out", ev.toString(), "--report",
                report.toString(), "--plots", plots.toString());
        assertThat(r[1]).isEqualTo("ntk4j: --plots " + plots + ": spectrum.png not written: no eigenvalue is "
                + "positive, which its log axis cannot show (λ_max -1.00000)\n");
        assertThat(r[0]).contains("λ_max -1.00000, λ_min -1.00000, 2 ≤ 0").contains("wrote " + report)
                .contains("wrote " + ev).contains("wrote " + plots.resolve("heatmap.png"));
        try (Tensor e = Npy.readTensor(ev)) {
            assertThat(e.toDoubleArray()).containsExactly(new double[] {-1, -1},
                    org.assertj.core.data.Offset.offset(1e-15));
        }
        assertThat(plots.resolve("spectrum.png")).doesNotExist();
        assertThat(plots.resolve("heatmap.png")).exists();
    }

    @Test
    void integerKernelFileIsReadAsFloat64() throws Exception {
        // an int64 .npy (NumPy's default integer type) used to be refused with advice about the Java API
        double[] values = {6, 1, 0, 1, 5, 2, 0, 2, 4};
        Path ints = dir.resolve("k_int.npy");
        Npy.write(ints, org.ntk4j.io.NpyArray.ofLongs(org.ntk4j.io.NpyDType.INT64, new long[] {6, 1, 0, 1, 5, 2, 0,
                2, 4}, 3, 3));
        Path doubles = dir.resolve("k_f8.npy");
        try (Tensor t = Tensor.of(values, 3, 3)) {
            Npy.write(doubles, t);
        }
        // the same figures as the float64 file's, but for the file name and the seconds taken
        String fromInts = run(0, "spectrum", ints.toString())[0].replaceAll("dsyevd, [0-9.]+ s", "dsyevd");
        String fromDoubles = run(0, "spectrum", doubles.toString())[0].replaceAll("dsyevd, [0-9.]+ s", "dsyevd");
        assertThat(fromInts).contains(ints + " [3, 3]")
                .isEqualTo(fromDoubles.replace(doubles.toString(), ints.toString()));
        Path ints32 = dir.resolve("k_i4.npy");
        Npy.write(ints32, org.ntk4j.io.NpyArray.ofLongs(org.ntk4j.io.NpyDType.INT32, new long[] {2, 1, 1, 2}, 2, 2));
        assertThat(run(0, "spectrum", ints32.toString())[0]).contains("λ_max 3.00000, λ_min 1.00000");
    }

    @Test
    void fullKernelFileAndPlotsOrderedByLabel() throws Exception {
        Path k = dir.resolve("full.npy");
        try (Tensor t = Tensor.zeros(DType.F32, 3, 3, 2, 2)) {
            for (int a = 0; a < 3; a++) {
                for (int o = 0; o < 2; o++) {
                    t.set(a + 1, a, a, o, o);
                }
            }
            Npy.write(k, t);
        }
        Path plots = dir.resolve("plots");
        String out = run(0, "spectrum", k.toString(), "--labels", "default:train:3", "--plots", plots.toString())[0];
        assertThat(out).contains("the 6×6 matrix of the full kernel").contains("condition number 3.00000")
                .contains("wrote " + plots.resolve("spectrum.png"));
        assertThat(Files.size(plots.resolve("spectrum.png"))).isGreaterThan(1000);
        assertThat(Files.size(plots.resolve("heatmap.png"))).isGreaterThan(1000);
    }

    @Test
    void computesAModelsKernelWithoutAFile() {
        Path plots = dir.resolve("p");
        String out = run(0, "spectrum", "--model", "fcn(depth=1,width=32)", "--data", "default:train:40",
                "--kind", "trace", "--plots", plots.toString())[0];
        assertThat(out).contains("computed the trace kernel of fcn(depth=1,width=32)").contains("40×40")
                .contains("effective rank");
        assertThat(Files.exists(plots.resolve("heatmap.png"))).isTrue();
    }

    @Test
    void badKernelsAreRefusedInOneLine() throws Exception {
        Path rect = dir.resolve("rect.npy");
        Path asym = dir.resolve("asym.npy");
        Path sym = dir.resolve("sym.npy");
        try (Tensor r = Tensor.zeros(DType.F64, 2, 3); Tensor a = Tensor.of(new double[] {1, 2, 0, 1}, 2, 2);
             Tensor s = Tensor.of(new double[] {1, 0, 0, 1}, 2, 2)) {
            Npy.write(rect, r);
            Npy.write(asym, a);
            Npy.write(sym, s);
        }
        assertThat(run(2, "spectrum", rect.toString())[1])
                .contains("expected a square kernel [N, N] or [N, N, O, O], got [2, 3]");
        assertThat(run(2, "spectrum", asym.toString())[1]).contains("not symmetric");
        assertThat(run(2, "spectrum", dir.resolve("none.npy").toString())[1]).contains("kernel file not found");
        assertThat(run(2, "spectrum", sym.toString(), "--labels", "default:train:5")[1])
                .contains("--labels: default:train:5 has 5 labels for a kernel of 2 examples");
        assertThat(run(2, "spectrum", sym.toString(), "--labels", "synthetic:2,3")[1]).contains("has no labels");
    }

    /** λ_min ≤ 0 prints inf; a positive λ_min below λ_max·d·ε is as much round-off, and is named so. */
    @Test
    void conditionNumbersPastWorkingPrecisionAreNamed() throws Exception {
        Path tiny = dir.resolve("tiny.npy");
        Path fine = dir.resolve("fine.npy");
        Path zero = dir.resolve("zero.npy");
        try (Tensor a = Tensor.of(new double[] {1, 0, 0, 1e-17}, 2, 2); Tensor b = Tensor.of(new double[] {1, 0, 0,
            1e-15}, 2, 2); Tensor c = Tensor.of(new double[] {1, 0, 0, 0}, 2, 2)) {
            Npy.write(tiny, a);
            Npy.write(fine, b);
            Npy.write(zero, c);
        }
        assertThat(run(0, "spectrum", tiny.toString())[0])
                .contains("condition number 1.00000e+17 (λ_min ≤ λ_max·d·ε, d = 2: singular to working precision)\n");
        assertThat(run(0, "spectrum", fine.toString())[0]).contains("condition number 1.00000e+15\n");
        assertThat(run(0, "spectrum", zero.toString())[0]).contains("condition number inf (λ_min ≤ 0)\n");
    }

    /**
     * A float64 kernel is singular to working precision at NumPy's {@code matrix_rank} tolerance, λ_min ≤ λ_max·d·ε
     * (the one {@code approx} applies), not only past 2^53: dsyevd's eigenvalues are exact only to about d·ε·λ_max.
     * Duplicated examples (rows 0 and 7 of X the same, K = X Xᵀ, rank 7 of 8) leave a λ_min of round-off, which
     * one BLAS returns positive (about 1e-16·λ_max: a condition number near 10^15 or 10^16, printed unflagged when
     * below 2^53) and another negative; both are now flagged, in the text and the report. diag(1, ..., 1, 1e-15) of
     * side 40 (exact eigenvalues; 1e-15 below 40·2^-52 = 8.9e-15, so matrix_rank says 39) is flagged too, and
     * diag(1, 1e-15) of side 2 (above 2·2^-52 = 4.4e-16) is not.
     */
    @Test
    void aFloat64KernelIsSingularAtTheMatrixRankTolerance() throws Exception {
        int n = 8;
        int p = 5;
        double[] x = new double[n * p];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < p; j++) {
                x[i * p + j] = Math.sin(3 * (i % 7) + 7 * j + 1); // row 7 is row 0
            }
        }
        double[] gram = new double[n * n];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) {
                for (int c = 0; c < p; c++) {
                    gram[i * n + j] += x[i * p + c] * x[j * p + c];
                }
            }
        }
        Path dup = dir.resolve("dup.npy");
        Path diag = dir.resolve("diag.npy");
        double[] d40 = new double[40 * 40];
        for (int i = 0; i < 40; i++) {
            d40[i * 40 + i] = i == 39 ? 1e-15 : 1;
        }
        try (Tensor g = Tensor.of(gram, n, n); Tensor d = Tensor.of(d40, 40, 40)) {
            Npy.write(dup, g);
            Npy.write(diag, d);
        }
        Path dupReport = dir.resolve("dup.json");
        String dupOut = run(0, "spectrum", dup.toString(), "--report", dupReport.toString())[0];
        assertThat(dupOut).containsPattern("condition number (inf \\(λ_min ≤ 0\\)|.*singular to working precision)");
        assertThat(Files.readString(dupReport)).contains("\"singular_to_working_precision\": true");
        Path diagReport = dir.resolve("diag.json");
        assertThat(run(0, "spectrum", diag.toString(), "--report", diagReport.toString())[0])
                .contains("condition number 1.00000e+15 (λ_min ≤ λ_max·d·ε, d = 40: singular to working precision)\n");
        assertThat(Files.readString(diagReport)).contains("\"singular_to_working_precision\": true");
    }

    /**
     * A float32 kernel's round-off is float32's, whatever the float64 eigensolver: diag(1, 1e-9) stored in float32
     * has a condition number of 1e9, above 2^24 (λ_min below the round-off of λ_max itself), so it is flagged, in
     * the text and the report, while the same matrix stored in float64 (1e-9 above 2·2^-52) is not; diag(1, 1e-6) in
     * float32 (1e6 < 2^24) is not either. Before, every kernel was judged by float64's 2^53, and the float32
     * kernel's 1e9 was printed as a measurement.
     */
    @Test
    void aFloat32KernelIsJudgedByFloat32Precision() throws Exception {
        Path f32 = dir.resolve("f32.npy");
        Path f64 = dir.resolve("f64.npy");
        try (Tensor a = Tensor.zeros(DType.F32, 2, 2); Tensor b = Tensor.of(new double[] {1, 0, 0, 1e-9}, 2, 2)) {
            a.set(1.0, 0, 0);
            a.set(1e-9, 1, 1);
            Npy.write(f32, a);
            Npy.write(f64, b);
        }
        Path r32 = dir.resolve("r32.json");
        Path r64 = dir.resolve("r64.json");
        assertThat(run(0, "spectrum", f32.toString(), "--report", r32.toString())[0])
                .contains("condition number 1.00000e+09 (above 2^24, float32's 1/u: singular to working precision)\n");
        assertThat(run(0, "spectrum", f64.toString(), "--report", r64.toString())[0])
                .contains("condition number 1.00000e+09\n").doesNotContain("singular");
        Path fine = dir.resolve("fine32.npy");
        try (Tensor c = Tensor.zeros(DType.F32, 2, 2)) {
            c.set(1.0, 0, 0);
            c.set(1e-6, 1, 1);
            Npy.write(fine, c);
        }
        assertThat(run(0, "spectrum", fine.toString())[0]).contains("condition number 1.00000e+06\n");
        assertThat(Files.readString(r32)).contains("\"precision\": \"f32\"")
                .contains("\"singular_to_working_precision\": true");
        assertThat(Files.readString(r64)).contains("\"precision\": \"f64\"")
                .contains("\"singular_to_working_precision\": false");
    }
}
