package org.ntk4j.cli;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import org.ntk4j.io.DataSource;
import org.ntk4j.io.Dataset;
import org.ntk4j.io.KernelFiles;
import org.ntk4j.io.Npy;
import org.ntk4j.io.Standardizer;
import org.ntk4j.nn.Model;
import org.ntk4j.nn.Params;
import org.ntk4j.ntk.ApproximationReport;
import org.ntk4j.ntk.EmpiricalNtk;
import org.ntk4j.ntk.KernelKind;
import org.ntk4j.ntk.Method;
import org.ntk4j.plot.Charts;
import org.ntk4j.predict.KernelMatrix;
import org.ntk4j.predict.KernelSpectrum;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Shapes;
import org.ntk4j.tensor.Tensor;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code ntk4j spectrum}: eigenvalues (float64), trace, condition number and effective rank of a kernel read from
 * a .npy file ([N, N] or [N, N, O, O], the latter as the NO×NO matrix) or computed from a model and data, with PNG
 * plots of the spectrum and of the kernel ordered by label.
 */
@Command(name = "spectrum", mixinStandardHelpOptions = true,
        footer = {"", "Example:", "  ntk4j spectrum K.npy --plots plots --top 5"},
        description = {"Eigenvalues, trace, condition number and effective rank of a kernel, with PNG plots.",
            "The kernel is K.npy ([N, N], or [N, N, O, O] read as the NO×NO matrix), or, without a file, the kernel "
                + "of --model on --data (default: the pNTK of fcn(depth=3,width=512) on the embedded 2,000 "
                + "Fashion-MNIST training images, standardised).",
            "--memory bounds that kernel's computation, as kernel's does; the eigensolver's float64 copy of the "
                + "kernel is not a kernel call and is not bounded by it."})
public final class SpectrumCommand implements Callable<Integer> {
    /** The PNGs --plots DIR gets. */
    static final String SPECTRUM_PNG = "spectrum.png";
    static final String HEATMAP_PNG = "heatmap.png";

    /** The options that only say how to compute the kernel, refused with a kernel file. */
    static final java.util.List<String> COMPUTE_OPTIONS = java.util.List.of("--model", "--data", "--kind",
            "--standardize", "--method", "--memory", "--dtype", "--seed", "--freeze", "--params-only",
            "--input-shape", "--output");

    @Spec
    private CommandSpec spec;

    @Parameters(index = "0", arity = "0..1", paramLabel = "K.npy", description = "Kernel file (.npy).")
    Path file;

    @Option(names = "--labels", description = "Labelled data whose labels (class indices below 2^24) order the "
            + "heatmap (one label per kernel example; e.g. default:train). Without a file: the data's own labels.")
    String labels;

    @Option(names = "--plots", description = "Directory for spectrum.png and heatmap.png.")
    Path plots;

    @Option(names = "--max-cells", description = "Heatmap cells per side; larger kernels are shown as block means "
            + "(default: ${DEFAULT-VALUE}).")
    int maxCells = 100;

    @Option(names = "--top", description = "Eigenvalues to print at each end (default: ${DEFAULT-VALUE}).")
    int top = 5;

    @Option(names = "--report", description = "Write the figures as JSON, exact (round-trip doubles; an infinite "
            + "condition number as null).")
    Path report;

    @Option(names = "--eigenvalues-out", description = "Write all eigenvalues, ascending, as a float64 .npy.")
    Path eigenvaluesOut;

    @picocli.CommandLine.Mixin
    OverwriteOption overwrite = new OverwriteOption();

    @Option(names = "--model", description = "Without a file: model spec or an ONNX file (default: "
            + "${DEFAULT-VALUE}).")
    String model = "fcn(depth=3,width=512)";

    @picocli.CommandLine.Mixin
    ModelArgument modelArgument = new ModelArgument();

    @Option(names = "--data", description = "Without a file: data (default: ${DEFAULT-VALUE}).")
    String data = DataSource.DEFAULT_TRAIN;

    @Option(names = "--kind", description = "Without a file: kernel kind (default: ${DEFAULT-VALUE}).")
    String kind = "pntk";

    @Option(names = "--standardize", description = "Without a file: global, per-feature or none (default: "
            + "${DEFAULT-VALUE}).")
    String standardize = "global";

    @Option(names = "--method", description = "Without a file: auto, jc, vp or sd (default: ${DEFAULT-VALUE}).")
    String method = "auto";

    @Option(names = "--dtype", description = "Without a file: f32 or f64 (default: ${DEFAULT-VALUE}).")
    String dtype = "f32";

    @Option(names = "--seed", description = "Without a file: seed of the parameters, synthetic data and probes:R's or "
            + "projected:K's directions; refused where it draws none of them (default: ${DEFAULT-VALUE}).")
    long seed;

    /** Without a file: the kernel's budget (the eigensolver's float64 copy of it is not a kernel call: not bound). */
    @picocli.CommandLine.Mixin
    MemoryOption memory = new MemoryOption();

    @Override
    public Integer call() throws Exception {
        if (maxCells < 1) {
            throw new IllegalArgumentException("--max-cells: expected a positive number, got " + maxCells);
        }
        if (top < 0) {
            throw new IllegalArgumentException("--top: expected a number >= 0, got " + top);
        }
        if (file != null) {
            for (String option : COMPUTE_OPTIONS) {
                if (spec.commandLine().getParseResult().hasMatchedOption(option)) {
                    throw new IllegalArgumentException(option + ": applies only when spectrum computes the kernel "
                            + "(no K.npy); " + file + " is read as it is");
                }
            }
        }
        overwrite.outputs().input("the K.npy argument", file).inputSource("--labels", labels)
                .inputSource("--data", file == null ? data : null).output("--report", report, ".json")
                .output("--eigenvalues-out", eigenvaluesOut, ".npy").outputIn("--plots", plots, SPECTRUM_PNG)
                .outputIn("--plots", plots, HEATMAP_PNG).check();
        PrintWriter o = spec.commandLine().getOut();
        String what;
        int[] exampleLabels = null;
        KernelMatrix k;
        DType precision; // the kernel's own: what its round-off, hence its resolvable λ_min, is
        if (file != null) {
            KernelFiles.SquareKernel read = KernelFiles.readSquareKernel(file);
            k = read.matrix();
            precision = read.precision();
            what = file + " " + (k.isFull() ? "[" + k.examples() + ", " + k.examples() + ", " + k.blockSize() + ", "
                    + k.blockSize() + "]" : "[" + k.examples() + ", " + k.examples() + "]");
            if (labels != null) {
                exampleLabels = labelsOf(labels, k.examples());
            }
        } else {
            Computed c = compute(o);
            k = c.kernel;
            precision = c.precision;
            exampleLabels = c.labels;
            what = c.description;
        }
        try (k) {
            // measured for the report; a file's kernel was refused already as it was read if not symmetric
            double asymmetry = k.requireSymmetric(file != null ? file.toString() : "kernel");
            Path spectrumPng = plots == null ? null : plots.resolve(SPECTRUM_PNG);
            Path heatmapPng = plots == null ? null : plots.resolve(HEATMAP_PNG);
            if (plots != null) { // the heatmap first: the eigensolver then overwrites the matrix
                Files.createDirectories(plots);
                int[] rowLabels = exampleLabels == null ? null : perRow(exampleLabels, k.blockSize());
                Charts.kernelHeatmap(heatmapPng, (rowLabels == null ? "kernel " : "kernel ordered by label, ")
                        + shortName(what), k::getRow, k.dimension(), rowLabels, maxCells);
            }
            long s0 = System.nanoTime();
            KernelSpectrum sp = KernelSpectrum.ofDestroying(k);
            double seconds = (System.nanoTime() - s0) / 1e9;
            boolean singular = singularToWorkingPrecision(sp, precision);
            print(o, what, k, sp, seconds, precision, singular);
            // a kernel with no positive eigenvalue (all zero, or negative definite) has none to draw on the plot's
            // log axis: the other outputs are written, then the plot refused (it failed before them)
            boolean drawable = java.util.Arrays.stream(sp.eigenvalues()).anyMatch(v -> v > 0 && Double.isFinite(v));
            if (plots != null && drawable) {
                Charts.spectrum(spectrumPng, "eigenvalues of " + shortName(what), sp.eigenvalues());
                o.println("wrote " + spectrumPng + ", " + heatmapPng);
            }
            if (report != null) {
                Reports.spectrum(what, sp, k.isFull(), asymmetry, seconds, precision, singular).write(report);
                o.println("wrote " + report);
            }
            if (eigenvaluesOut != null) {
                double[] e = sp.eigenvalues();
                try (Tensor t = Tensor.of(e, e.length)) {
                    Npy.write(eigenvaluesOut, t);
                }
                o.println("wrote " + eigenvaluesOut);
            }
            if (plots != null && !drawable) {
                o.println("wrote " + heatmapPng);
                o.flush();
                throw new IllegalArgumentException("--plots " + plots + ": " + SPECTRUM_PNG + " not written: no "
                        + "eigenvalue is positive, which its log axis cannot show (λ_max " + String.format(Locale.ROOT,
                        "%.6g", sp.lambdaMax()) + ")");
            }
        }
        o.flush();
        return 0;
    }

    /**
     * Whether the kernel is singular to working precision: λ_min ≤ 0, or λ_min ≤ λ_max·d·ε (ε = 2^-52, d the
     * side: NumPy's matrix_rank tolerance, the one approx applies), or, for a float32 kernel, λ_max/λ_min above
     * 2^24, float32's 1/u. The first test is the float64 eigensolver's own: dsyevd's eigenvalues carry absolute
     * errors up to about d·ε·λ_max (LAPACK's bound p(d)·ε·‖K‖₂), so a smaller positive λ_min is round-off as much
     * as a negative one (duplicated examples give either sign; a positive one, near 1e-16·λ_max, read as a
     * condition number of 10^15 when only 1/u = 2^53 was tested). The float32 test is the entries' own: a float32
     * kernel carries errors of u·|K| from its storage alone, so a λ_min below λ_max·2^-24 is below the round-off of
     * λ_max itself. (For float32 that test is deliberately lenient: d·2^-23, NumPy's worst case for float32, would
     * flag, for instance, the default 2,000-image float32 pNTK, whose λ_min, 0.295776, its float64 counterpart
     * reproduces to 2e-5: 0.295769.)
     */
    static boolean singularToWorkingPrecision(KernelSpectrum sp, DType precision) {
        return ApproximationReport.numericallySingular(sp, DType.F64) || float32Unresolved(sp, precision);
    }

    /** A float32 kernel whose condition number is above 2^24 (or infinite). */
    private static boolean float32Unresolved(KernelSpectrum sp, DType precision) {
        return precision == DType.F32 && !(sp.conditionNumber() * 0x1p-24 <= 1);
    }

    private static String shortName(String what) {
        int cut = what.indexOf(';');
        return cut < 0 ? what : what.substring(0, cut);
    }

    private void print(PrintWriter o, String what, KernelMatrix k, KernelSpectrum sp, double seconds,
                       DType precision, boolean singular) {
        o.printf(Locale.ROOT, "kernel %s: %s%n", what, k.isFull()
                ? "the " + k.dimension() + "×" + k.dimension() + " matrix of the full kernel"
                : k.dimension() + "×" + k.dimension() + " (as K ⊗ I_O each eigenvalue repeats O times)");
        o.printf(Locale.ROOT, "eigenvalues (float64, LAPACK dsyevd, %.2f s): λ_max %.6g, λ_min %.6g, %d ≤ 0%n",
                seconds, sp.lambdaMax(), sp.lambdaMin(), sp.nonPositiveCount());
        double condition = sp.conditionNumber();
        // below the eigensolver's resolution (λ_max·d·ε) or, in float32, past 2^24 a positive λ_min is round-off as
        // much as a negative one: say so, as for λ_min ≤ 0
        o.printf(Locale.ROOT, "trace %.6g, condition number %s%n", sp.trace(), !Double.isFinite(condition)
                ? "inf (λ_min ≤ 0)" : String.format(Locale.ROOT, "%.6g", condition)
                + (!singular ? "" : float32Unresolved(sp, precision)
                        ? " (above 2^24, float32's 1/u: singular to working precision)"
                        : " (λ_min ≤ λ_max·d·ε, d = " + sp.dimension() + ": singular to working precision)"));
        o.printf(Locale.ROOT, "effective rank %.4g (exp of the entropy of λ/Σλ, Roy & Vetterli), participation ratio "
                + "%.4g ((Σλ)²/Σλ²), of %d%n", sp.effectiveRank(), sp.participationRatio(), sp.dimension());
        double[] e = sp.eigenvalues();
        int t = Math.min(top, e.length);
        if (t > 0) {
            StringBuilder big = new StringBuilder();
            StringBuilder small = new StringBuilder();
            for (int i = 0; i < t; i++) {
                big.append(String.format(Locale.ROOT, " %.6g", e[e.length - 1 - i]));
                small.append(String.format(Locale.ROOT, " %.6g", e[i]));
            }
            o.println("largest:" + big);
            o.println("smallest:" + small);
        }
    }

    /** Each example's label repeated for its O rows in the full layout. */
    static int[] perRow(int[] labels, int block) {
        int[] r = new int[labels.length * block];
        for (int i = 0; i < r.length; i++) {
            r[i] = labels[i / block];
        }
        return r;
    }

    private int[] labelsOf(String source, int n) throws java.io.IOException {
        try (Dataset d = KernelOptions.named("--labels", () -> DataSource.loadDataset(source, DType.F32, seed))) {
            if (!d.hasLabels()) {
                throw new IllegalArgumentException("--labels: " + source + " has no labels");
            }
            if (d.size() != n) {
                throw new IllegalArgumentException("--labels: " + source + " has " + d.size() + " labels for a kernel "
                        + "of " + n + " examples");
            }
            return d.labels().clone();
        }
    }

    private record Computed(KernelMatrix kernel, int[] labels, String description, DType precision) {
    }

    private Computed compute(PrintWriter o) throws java.io.IOException {
        DType dt = KernelOptions.parsed("--dtype", dtype, DType::parse);
        KernelKind kk = KernelOptions.parsed("--kind", kind, t -> KernelKind.parse(t, seed));
        if (kk.isPerOutput()) {
            throw new IllegalArgumentException("--kind: diagonal gives one kernel per output; take full or an "
                    + "N×N kind");
        }
        Method m = KernelOptions.parsed("--method", method, Method::parse);
        KernelOptions.requireMethodApplies(m, kk);
        long budget = memory.budget();
        ModelArgument.Resolved resolved = modelArgument.resolve(model);
        // a seed that draws nothing is refused, as kernel's (until the late-night review of 2026-12-07, an ONNX
        // model's spectrum on file data took --seed without a word)
        KernelOptions.requireSeedDraws(spec, resolved.onnx() != null ? "the ONNX model's stored weights" : null, kk,
                data);
        Model net = resolved.model();
        Standardizer.Mode mode = KernelOptions.parsed("--standardize", standardize, Standardizer.Mode::parse);
        try (Dataset raw = KernelOptions.named("--data",
                () -> DataSource.loadDataset(resolved.dataSpec("--data", data), dt, seed));
             Dataset std = KernelOptions.fitStandardizer(raw.x(), mode, "--data " + data,
                     spec.commandLine().getErr()).apply(raw);
             Dataset d = resolved.layout("--data", std)) {
            int[] out = net.outputShape(d.exampleShape());
            if (out.length != 1) {
                throw new IllegalArgumentException("--model: needs outputs [N, O], " + net.spec() + " gives [N] + "
                        + Shapes.str(out));
            }
            KernelOptions.requireKindFits("--kind", kk, net, d.exampleShape(), budget);
            int[] own = d.hasLabels() ? d.labels().clone() : null;
            int[] lab = labels != null ? labelsOf(labels, d.size()) : own;
            try (Params p = resolved.params(null, seed, d.exampleShape(), dt)) {
                EmpiricalNtk ntk = EmpiricalNtk.of(net, p).method(m).memoryBudget(budget);
                new KernelOptions.BudgetCheck().kernel(ntk, kk, d.size(), 0, d.exampleShape(), dt).requireAllFit();
                long t0 = System.nanoTime();
                KernelMatrix k = org.ntk4j.predict.KernelRows.train(ntk, kk, d.x(), out[0]);
                o.printf(Locale.ROOT, "computed the %s kernel of %s on %s %s (standardised: %s, %s) in %.2f s%n", kk,
                        net.spec(), d.name(), Shapes.str(d.x().shape()),
                        mode.optionName(), dt.shortName(),
                        (System.nanoTime() - t0) / 1e9);
                return new Computed(k, lab, kk + " of " + net.spec() + " on " + d.name(), dt);
            }
        }
    }
}
