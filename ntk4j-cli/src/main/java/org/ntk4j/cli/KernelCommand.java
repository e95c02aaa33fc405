package org.ntk4j.cli;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import org.ntk4j.infinite.LimitKernel;
import org.ntk4j.io.DataSource;
import org.ntk4j.io.Npy;
import org.ntk4j.io.ParamsFile;
import org.ntk4j.io.Standardizer;
import org.ntk4j.nn.Model;
import org.ntk4j.nn.Params;
import org.ntk4j.ntk.CostModel;
import org.ntk4j.ntk.KernelJob;
import org.ntk4j.ntk.Method;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Shapes;
import org.ntk4j.tensor.Tensor;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code ntk4j kernel}: the empirical NTK of a zoo model on data, by a chosen or automatic method. */
@Command(name = "kernel", mixinStandardHelpOptions = true,
        footer = {"", "Example:", "  ntk4j kernel --model 'fcn(depth=2,width=512,out=10)' --data default:train:1000 "
                + "--kind pntk --memory 1g --out K.npy"},
        description = "Compute the empirical NTK Θ(x1, x2) = J(x1) J(x2)ᵀ of a model at its parameters.")
public final class KernelCommand implements Callable<Integer>, Main.TilesWithOut {
    @Spec
    private CommandSpec spec;

    @Option(names = "--model", description = "Model spec (see 'ntk4j models') or an ONNX file (docs/onnx.md; "
            + "default: ${DEFAULT-VALUE}).")
    String model = "fcn(depth=2,width=256,out=10)";

    @Mixin
    ModelArgument modelArgument = new ModelArgument();

    @Option(names = "--data", description = "x1: a data source: default:train|test[:N] (the embedded "
            + "Fashion-MNIST subset), fashion-mnist:train|test[:N], a .npy/.npz/.csv/IDX file, or "
            + "synthetic:N,D1[,D2...] (docs/data.md; default: ${DEFAULT-VALUE}, the first 500 embedded "
            + "training images).")
    String data = "default:train:500";

    @Option(names = "--x2", description = "x2 (same sources); omitted: x2 = x1, and its work is reused.")
    String x2;

    @Option(names = "--standardize", description = "none, global (one mean and std) or per-feature, fitted on "
            + "--data and applied to --data and --x2 (default: ${DEFAULT-VALUE}: the kernel of the inputs as given).")
    String standardize = "none";

    @Option(names = "--method", description = "auto, jc, vp or sd (default: ${DEFAULT-VALUE}).")
    String method = "auto";

    @Mixin
    KernelOptions kernel = new KernelOptions();

    @Option(names = "--seed", description = "Seed of the parameters, synthetic data and probes:R's or "
            + "projected:K's directions; refused where it draws none of them (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--params-in", description = "Parameters to use (.npz, as written by --params-out).")
    Path paramsIn;

    @Option(names = "--params-out", description = "Write the parameters used (.npz; NumPy reads it).")
    Path paramsOut;

    /** Whether --params-out exists as the resumed run's own (see {@link #call}). */
    private boolean paramsOutOfTheRun;

    @Option(names = "--out", description = "Write the kernel as .npy.")
    Path out;

    @Option(names = "--report", description = "Write a JSON report: method, shapes, seconds, FLOPs, peak bytes.")
    Path report;

    /** 0: not given (the largest tile that fits --memory). */
    int tile;

    @Option(names = "--tile", paramLabel = "<tile>", description = "With --out: tiles of this many examples (rounded "
            + "up to a multiple of 16); default: the largest that fits --memory.")
    void setTile(int value) {
        try {
            tile = TiledRun.tileOption(value);
        } catch (IllegalArgumentException e) {
            throw new picocli.CommandLine.ParameterException(spec.commandLine(), e.getMessage());
        }
    }

    @Option(names = "--resume", description = "With --out: continue the unfinished run of OUT (OUT.partial and "
            + "OUT.manifest), recomputing no finished tile.")
    boolean resume;

    @Option(names = "--threads", description = "With --out: tiles computed at once (default: the number of cores), "
            + "each on the plan's BLAS threads (one, or the cores shared by the blocks --memory allows at once); the "
            + "result does not depend on it.")
    Integer threads;

    @Mixin
    OverwriteOption overwrite = new OverwriteOption();

    @Option(names = "--quiet", description = "No progress on stderr.")
    boolean quiet;

    @Option(names = "--ensemble", paramLabel = "K", description = "The mean of the kernel over K initialisations, "
            + "seeds --seed, --seed + 1, ..., --seed + K - 1 (tiled and resumable with --out like any kernel).")
    Integer ensemble;

    @Option(names = "--sem", paramLabel = "SEM", description = "With --ensemble K >= 2: write the standard error "
            + "of the mean per entry (sample standard deviation / √K) as .npy, laid out as the kernel.")
    Path sem;

    @Option(names = "--infinite", description = "The analytic infinite-width kernel of the model instead of the "
            + "empirical one: fcn, cnn (pool=gap or flatten) or resnet with any act, either "
            + "parameterisation (docs/kernels.md, the infinite-width limit).")
    boolean infinite;

    @Option(names = "--nngp", description = "The NNGP f(x1)·f(x2)ᵀ (mean over logits as the kernel kinds) instead of "
            + "the NTK: kinds full, trace, diagonal; with --infinite, the analytic NNGP; not tiled.")
    boolean nngp;

    @Option(names = "--spark", arity = "0..1", fallbackValue = "", paramLabel = "MASTER", description = "With --out: "
            + "compute the tiles on Apache Spark at MASTER (local[k], spark://host:port; nothing under spark-submit, "
            + "which sets it); OUT must be a path every executor reaches. Needs ntk4j-spark (the launcher adds it).")
    String spark;

    @Override
    public Integer call() throws Exception {
        DType dt = KernelOptions.parsed("--dtype", kernel.dtype, DType::parse);
        Method m = KernelOptions.parsed("--method", method, Method::parse);
        org.ntk4j.ntk.KernelKind kind = KernelOptions.parsed("--kind", kernel.kindText(seed),
                t -> org.ntk4j.ntk.KernelKind.parse(t, seed));
        int[][] axes = kernel.axes();
        long budget = kernel.memoryBudget();
        ModelArgument.Resolved resolved = modelArgument.resolve(model);
        if (ensemble != null) {
            resolved.requireSeededParams("--ensemble");
        }
        if (infinite && resolved.onnx() != null) {
            throw new IllegalArgumentException("--infinite: the analytic kernel is that of a zoo "
                    + org.ntk4j.infinite.InfiniteLimit.SUPPORTED + ", not of an imported ONNX model");
        }
        Standardizer.Mode standardization = KernelOptions.parsed("--standardize", standardize,
                Standardizer.Mode::parse);
        checkEnsembleAndLimit(kind);
        // after the refusals of what does not combine (--infinite with --params-in or an ONNX model): the seed's
        // refusal would name an option that is itself refused next
        requireSeedApplies(resolved, kind);
        if (infinite || nngp) {
            KernelOptions.requireNoNtkMethod(m, infinite ? "--infinite: the analytic kernel (a closed form)"
                    : "--nngp: the NNGP (forward passes and one contraction of the outputs)");
        }
        if (!kernel.explicitAxes()) {
            KernelOptions.requireMethodApplies(m, kind);
        }
        boolean tiled = tiled();
        if (!tiled && (resume || tile != 0 || threads != null || spark != null)) {
            throw new IllegalArgumentException((resume ? "--resume" : tile != 0 ? "--tile"
                    : threads != null ? "--threads" : "--spark")
                    + ": only for a tiled run, which writes its kernel with --out (and --kind, not axes)");
        }
        // Before any work: every output is checked, and a tiled run claims OUT (its lock, its unfinished run). A
        // resumed run's --params-out was written by its first attempt: it is checked against the parameters later
        // (kept if they are the same), so the documented recipe, the same command with --resume, works
        paramsOutOfTheRun = tiled && resume && !overwrite.overwrite && paramsOut != null
                && java.nio.file.Files.isRegularFile(paramsOut);
        // so are OUT and SEM when the first attempt was killed while finishing them: renamed, with a manifest left
        // (TileStore.finishAll); the resume checks them against it and does not write them again
        boolean outOfTheRun = tiled && resume && renamedByTheRun(out, out);
        boolean semOfTheRun = outOfTheRun && sem != null && renamedByTheRun(out, sem);
        // and --report: a run killed after writing it and before removing the manifests (TiledKernelRun.Events
        // .finished) left it, and the --resume that its interruption line and docs/cli.md prescribe writes it again
        // (refused without --overwrite before). Only a report of this OUT's tiled run: a file that another program
        // put there during the run (which the run refused to replace) is still refused without --overwrite
        boolean reportOfTheRun = outOfTheRun && report != null && tiledReportOf(report, out);
        if (tiled && resume && !outOfTheRun) {
            requireUnfinished(out);
        }
        KernelOptions.requireParamsFile(paramsIn);
        overwrite.outputs().inputSource("--data", data).inputSource("--x2", x2).input("--params-in", paramsIn)
                .output("--out", outOfTheRun ? null : out, ".npy")
                .output("--params-out", paramsOutOfTheRun ? null : paramsOut, ".npz")
                .output("--report", reportOfTheRun ? null : report, ".json")
                .output("--sem", semOfTheRun ? null : sem, ".npy").check();
        if (tiled) {
            // a link named as --out or --sem is followed (docs/cli.md): the run's files go beside its target
            out = org.ntk4j.io.AtomicFile.destination(out);
            sem = sem == null ? null : org.ntk4j.io.AtomicFile.destination(sem);
        }
        try (org.ntk4j.io.TiledKernelRun.Claim claim = tiled ? TiledRun.claim(this, m) : null) {
            return compute(dt, m, kind, axes, budget, resolved, standardization);
        }
    }

    /**
     * Refuses a --seed that would draw nothing, rather than ignore it ({@link KernelOptions#requireSeedDraws}): with
     * the parameters read (--params-in, or an ONNX model's stored weights) or none at all (--infinite), no synthetic
     * data and no seeded kind, {@code --params-in P --seed 5} gave P's kernel, the seed unused, without a word
     * (before 2026-12-07, late night; {@code --infinite --seed 5} until that night's review). --ensemble draws its
     * members' parameters from the seed (refused with --params-in, an ONNX model and --infinite apart).
     */
    private void requireSeedApplies(ModelArgument.Resolved resolved, org.ntk4j.ntk.KernelKind kind) {
        String none = ensemble != null ? null : paramsIn != null ? "--params-in " + paramsIn
                : resolved.onnx() != null ? "the ONNX model's stored weights"
                : infinite ? "--infinite (the analytic kernel has no parameters)" : null;
        KernelOptions.requireSeedDraws(spec, none, kernel.explicitAxes() ? null : kind, data, x2);
    }

    private int compute(DType dt, Method m, org.ntk4j.ntk.KernelKind kind, int[][] axes, long budget,
                        ModelArgument.Resolved resolved, Standardizer.Mode standardization) throws java.io.IOException {
        PrintWriter o = spec.commandLine().getOut();
        Model net = resolved.model();
        try (Tensor loaded1 = KernelOptions.named("--data", () -> DataSource.load(
                resolved.dataSpec("--data", data), dt, seed));
             Tensor loaded2 = x2 == null ? null : KernelOptions.named("--x2",
                     () -> DataSource.load(resolved.dataSpec("--x2", x2), dt, seed + 1))) {
            // fitted once, on --data, for both sides (its warning about constant inputs printed once)
            Standardizer fitted = KernelOptions.fitStandardizer(loaded1, standardization, "--data " + data,
                    spec.commandLine().getErr());
            // parameters of ntk4j train: in the run's --standardize, the statistics it fitted (as predict does), so
            // that the trained network sees inputs of its training scale; warnings of another mode or model
            Standardizer std = infinite ? fitted : TrainedInputs.standardizer("--params-in", paramsIn, model,
                    fitted, "--data " + data, spec.commandLine().getErr());
            try (Tensor x1 = prepare(resolved, "--data", std, loaded1, null, null);
                 Tensor xb = loaded2 == null ? null : prepare(resolved, "--x2", std, loaded2, loaded1,
                         Shapes.dropFirst(x1.shape()))) {
                // x1 and x2 are the data laid out (and standardised): copies, which the run holds; the data as read
                // is not read again, and kept it was a second copy of the inputs beside the budget, which counts
                // them once (float64 inputs of 1000 × 512 and 300 × 512, tiled under --memory 6m, peaked at 10.8 MiB)
                loaded1.close();
                if (loaded2 != null) {
                    loaded2.close();
                }
                int[] perExample = Shapes.dropFirst(x1.shape());
                if (xb != null && !java.util.Arrays.equals(perExample, Shapes.dropFirst(xb.shape()))) {
                    throw new IllegalArgumentException("shape mismatch: --x2 examples " + Shapes.str(Shapes.dropFirst(
                            xb.shape())) + " differ from --data examples " + Shapes.str(perExample));
                }
                if (!kernel.explicitAxes()) {
                    KernelOptions.requireKindFits("--kind", kind, net, perExample, budget);
                }
                kernel.requireAxesFit(net, perExample);
                if (infinite) {
                    return limit(o, kind, x1, xb, dt, budget);
                }
                Params p = resolved.params(paramsIn, seed, perExample, dt);
                net = withBuffersOf(net, p);
                try {
                    if (paramsOutOfTheRun && !ParamsFile.holds(paramsOut, p)) {
                        throw new IllegalArgumentException("--params-out " + paramsOut + " exists and does not hold "
                                + "this run's parameters; pass --overwrite to replace it");
                    }
                    // --params-out is written once the run goes ahead (a tiled run: its plan fits the budget; in
                    // memory: the kernel is computed), so that a command refused before any work leaves no file behind
                    if (tiled()) {
                        new TiledRun(this, net, p, x1, xb, kind, m, budget).run(o, spec.commandLine().getErr());
                        o.flush();
                        return 0;
                    }
                    KernelJob.Request request = (kernel.explicitAxes()
                            ? KernelJob.Request.ofAxes(net, p, x1, xb, axes)
                            : KernelJob.Request.of(net, p, x1, xb, kind))
                            .withMethod(m, budget).withNngp(nngp).withEnsemble(ensemble == null ? 0 : ensemble, seed);
                    try (KernelJob.Result r = KernelJob.run(request)) {
                        writeParamsOut(p);
                        print(o, request, r, dt);
                        if (report != null) {
                            Reports.kernel(request, r, axes, budget).write(report);
                            o.println("wrote " + report);
                        }
                    }
                } finally {
                    p.close();
                }
            }
        }
        o.flush();
        return 0;
    }

    /**
     * Whether {@code report} is a tiled run's report of {@code out} ({@link Reports#tiled}: its "out" field names
     * the kernel file the run wrote, and it has the tile counts): a report the run wrote once its kernel was finished.
     * A file that is not such a report (too large for one, not a flat JSON report, another OUT's) is not.
     */
    private static boolean tiledReportOf(Path report, Path out) throws java.io.IOException {
        Path file = org.ntk4j.io.AtomicFile.destination(report);
        if (!java.nio.file.Files.isRegularFile(file) || java.nio.file.Files.size(file) > (1 << 20)) {
            return false;
        }
        org.ntk4j.io.JsonReport read;
        try {
            read = org.ntk4j.io.JsonReport.read(file);
        } catch (java.io.IOException notAReport) { // not a flat JSON report, or unreadable: refused as it exists
            return false;
        }
        Object named = read.get("out");
        return named instanceof String s && read.has("tiles_computed") && Path.of(s).toAbsolutePath().normalize()
                .equals(org.ntk4j.io.AtomicFile.destination(out).toAbsolutePath().normalize());
    }

    /**
     * Whether {@code file} (OUT, or SEM of the run of OUT) is a tiled run's output renamed by a finish that was
     * killed before it removed OUT's manifest: the file is there, its partial file is not, and OUT's manifest is.
     */
    private static boolean renamedByTheRun(Path out, Path file) throws java.io.IOException {
        Path kernel = org.ntk4j.io.AtomicFile.destination(out);
        Path written = org.ntk4j.io.AtomicFile.destination(file);
        return java.nio.file.Files.exists(org.ntk4j.io.TileStore.manifestPath(kernel))
                && !java.nio.file.Files.exists(org.ntk4j.io.TileStore.partialPath(kernel))
                && !java.nio.file.Files.exists(org.ntk4j.io.TileStore.partialPath(written))
                && java.nio.file.Files.isRegularFile(written);
    }

    /**
     * Refuses --resume onto an OUT that exists without OUT.manifest (a finished run's kernel, or another file): it was
     * refused as any existing output, "pass --overwrite to replace it", which with --resume then found no run.
     */
    private static void requireUnfinished(Path out) throws java.io.IOException {
        Path kernel = org.ntk4j.io.AtomicFile.destination(out);
        Path manifest = org.ntk4j.io.TileStore.manifestPath(kernel);
        if (java.nio.file.Files.isRegularFile(kernel) && !java.nio.file.Files.exists(manifest)) {
            throw new IllegalArgumentException("--resume: " + out + " exists and " + manifest + " does not: no "
                    + "unfinished run to resume (a finished one, or another file); without --resume, --overwrite "
                    + "computes it again");
        }
    }

    /**
     * Writes --params-out, unless it is a resumed run's own (checked to hold these parameters before the run).
     *
     * @param p the parameters of the run
     * @return whether a file was written
     */
    boolean writeParamsOut(Params p) throws java.io.IOException {
        if (paramsOut == null || paramsOutOfTheRun) {
            return false;
        }
        ParamsFile.save(p, paramsOut);
        return true;
    }

    /**
     * Whether --out writes the kernel tile by tile (kinds only; not the axes form, the analytic limit or the NNGP,
     * which are computed in memory and then written).
     */
    private boolean tiled() {
        return out != null && tilesWithOut();
    }

    /** Kinds only: the axes form, the analytic limit and the NNGP are computed in memory even with --out. */
    @Override
    public boolean tilesWithOut() {
        return !kernel.explicitAxes() && !infinite && !nngp;
    }

    /** Prints an in-memory kernel's figures and writes --out and --sem. */
    private void print(PrintWriter o, KernelJob.Request q, KernelJob.Result r, DType dt) throws java.io.IOException {
        Tensor x1 = q.x1();
        Tensor xb = q.x2();
        Tensor k = r.kernel();
        o.printf(Locale.ROOT, "model %s: %d parameters; x1 %s%s; %s%n", q.model().spec(), q.params().count(),
                Shapes.str(x1.shape()), xb == null ? " (x2 = x1)" : ", x2 " + Shapes.str(xb.shape()), dt.shortName());
        int members = q.members();
        String what = (q.axes() != null ? "axes" : q.kind().toString()) + (q.nngp() ? " nngp" : "")
                + (q.ensemble() == 0 ? "" : ", mean of an ensemble of " + q.ensemble() + " (seeds " + q.seed()
                + ".." + (q.seed() + q.ensemble() - 1) + ")");
        if (q.nngp()) {
            o.printf(Locale.ROOT, "kind %s: %.3f s, peak %s%n", what, r.seconds(), CostModel.human(r.peakBytes()));
        } else {
            double flops = members * r.estimate().flops();
            o.printf(Locale.ROOT, "kind %s, method %s%s: %.3f s, %.3g FLOPs predicted, %.2f GFLOP/s, peak "
                            + "%s (predicted %s)%n", what,
                    q.sketched() ? "jc rows + sketch" : r.method().shortName(), q.method() == Method.AUTO ? " (auto)"
                            : "", r.seconds(), flops, flops / r.seconds() / 1e9, CostModel.human(r.peakBytes()),
                    CostModel.human(r.estimate().peakBytes()));
        }
        o.printf(Locale.ROOT, "kernel %s %s%n", Shapes.str(k.shape()), summary(k));
        if (r.sem() != null) {
            o.printf(Locale.ROOT, "standard error of the mean %s%n", summary(r.sem()));
        }
        if (out != null) {
            Npy.write(out, k);
            o.println("wrote " + out);
        }
        if (sem != null) {
            Npy.write(sem, r.sem());
            o.println("wrote " + sem);
        }
    }

    /**
     * Refuses, before any work and in one line, the combinations of --ensemble, --sem, --infinite and --nngp that
     * mean nothing or are not implemented.
     */
    private void checkEnsembleAndLimit(org.ntk4j.ntk.KernelKind kind) {
        if (ensemble != null && ensemble < 1) {
            throw new IllegalArgumentException("--ensemble: expected at least 1 initialisation, got " + ensemble);
        }
        if (sem != null && (ensemble == null || ensemble < 2)) {
            throw new IllegalArgumentException("--sem: the standard error of the mean needs --ensemble K with K >= 2");
        }
        if (ensemble != null && (paramsIn != null || paramsOut != null || spark != null)) {
            throw new IllegalArgumentException("--ensemble: each member's parameters come from its seed; it does not "
                    + "combine with " + (paramsIn != null ? "--params-in" : paramsOut != null ? "--params-out"
                    : "--spark"));
        }
        if (nngp && !kernel.explicitAxes() && !kind.isAxesKind() && !infinite) {
            throw new IllegalArgumentException("--nngp: kinds full, trace and diagonal only, not " + kind);
        }
        if (!infinite) {
            return;
        }
        String other = ensemble != null ? "--ensemble" : paramsIn != null ? "--params-in"
                : paramsOut != null ? "--params-out" : resume ? "--resume" : tile != 0 ? "--tile"
                : threads != null ? "--threads" : spark != null ? "--spark" : kernel.explicitAxes()
                ? "--trace-axes/--diagonal-axes" : null;
        if (other != null) {
            throw new IllegalArgumentException("--infinite: the analytic kernel has no parameters and is not tiled; it "
                    + "does not combine with " + other);
        }
        org.ntk4j.infinite.InfiniteLimit.of(model); // refuses any other model or activation, naming what is supported
        if (kind.isSketched()) {
            throw new IllegalArgumentException("--infinite: --kind " + kind + " has no infinite-width counterpart (it "
                    + "sketches the parameters); use full, trace, diagonal, pntk, pntk-unscaled, logit:K or probes:R");
        }
    }

    /**
     * --infinite: the analytic NNGP or NTK of the zoo model, laid out as the empirical kernel of the kind; refused
     * before any work when the kernel alone is larger than the --memory budget.
     */
    private int limit(PrintWriter o, org.ntk4j.ntk.KernelKind kind, Tensor x1, Tensor xb, DType dt, long budget)
            throws java.io.IOException {
        org.ntk4j.infinite.InfiniteLimit lim = org.ntk4j.infinite.InfiniteLimit.of(model);
        int n2 = xb == null ? x1.dim(0) : xb.dim(0);
        long bytes = x1.dim(0) * kind.entriesPerRow(n2, lim.outputs()) * dt.bytes();
        if (bytes > budget) {
            throw new IllegalArgumentException("memory budget: the infinite-width kernel (kind " + kind + ", "
                    + x1.dim(0) + " × " + n2 + " examples, " + dt.shortName() + ") takes " + CostModel.human(bytes)
                    + ", more than the " + CostModel.human(budget) + " of --memory (raise --memory, or use fewer "
                    + "examples)");
        }
        int[] perExample = Shapes.dropFirst(x1.shape());
        // each expectation priced at the node count of its integration (larger rules at larger variances)
        double predicted = lim.predictedSeconds(x1, xb);
        double expectations = lim.expectations(x1.dim(0), xb == null ? 0 : xb.dim(0), perExample);
        double each = expectations > 0 ? predicted * org.ntk4j.cpu.Parallel.threads() / expectations : 0;
        // before the work: a convolutional limit by numerical integration may take hours
        o.printf(Locale.ROOT, "limit cost: %.3g Gaussian expectations of the activation (%s), predicted %s on %d "
                + "threads%n", expectations,
                lim.integratesNumerically() ? String.format(Locale.ROOT, "numerical integration, ~%.0f µs each",
                        each * 1e6) : "closed form",
                humanSeconds(predicted), org.ntk4j.cpu.Parallel.threads());
        o.flush();
        LimitKernel which = nngp ? LimitKernel.NNGP : LimitKernel.NTK; // --nngp: K, else Θ
        long start = System.nanoTime();
        try (Tensor k = lim.kernel(kind, x1, xb, which, dt)) {
            double seconds = (System.nanoTime() - start) / 1e9;
            o.printf(Locale.ROOT, "model %s: infinite-width limit, %s; x1 %s%s; %s%n", model, lim,
                    Shapes.str(x1.shape()), xb == null ? " (x2 = x1)" : ", x2 " + Shapes.str(xb.shape()),
                    dt.shortName());
            o.printf(Locale.ROOT, "kind %s%s, analytic: %.3f s%n", kind, which == LimitKernel.NNGP ? " nngp" : "",
                    seconds);
            o.printf(Locale.ROOT, "kernel %s %s%n", Shapes.str(k.shape()), summary(k));
            if (out != null) {
                Npy.write(out, k);
                o.println("wrote " + out);
            }
            if (report != null) {
                Reports.limit(model, which, kind, dt, x1, xb, k, seconds).write(report);
                o.println("wrote " + report);
            }
        }
        o.flush();
        return 0;
    }

    /**
     * A predicted duration as a person reads it: seconds up to two minutes, then minutes up to two hours, then hours.
     */
    static String humanSeconds(double seconds) {
        if (seconds < 120) {
            return String.format(Locale.ROOT, "about %.2g s", seconds);
        }
        return seconds < 7200 ? String.format(Locale.ROOT, "about %.0f min", seconds / 60)
                : String.format(Locale.ROOT, "about %.1f h", seconds / 3600);
    }

    /** The model with the buffers (batch-norm running statistics) of a parameter file, when it has any. */
    static Model withBuffersOf(Model net, Params p) {
        return p.buffers().isEmpty() ? net : net.withBuffers(p.buffers());
    }

    /**
     * {@code x}, the examples of {@code option}, standardised as {@code fitted} (fitted on --data) and laid out for
     * the model, a new tensor. --data ({@code data} null) is laid out by {@link ModelArgument.Resolved#layout}, which
     * fails naming the option when its examples fit no input shape of the model. --x2 is refused first when its
     * examples have another size than those of {@code data} (--data as loaded), then laid out as --data was, in
     * {@code dataExample} ({@link ModelArgument.Resolved#layoutLike}: flat rows of as many values as a --data image
     * are that image; another shape that would read the values in another order, [3, 8, 8] beside [8, 8, 3], is
     * refused).
     */
    private static Tensor prepare(ModelArgument.Resolved net, String option, Standardizer fitted, Tensor x,
                                  Tensor data, int[] dataExample) {
        if (data != null) {
            KernelOptions.requireExampleSize(option, Shapes.dropFirst(x.shape()), "the --data examples",
                    Shapes.dropFirst(data.shape()));
        }
        java.util.function.UnaryOperator<Tensor> layout = data == null ? t -> net.layout(option, t)
                : t -> net.layoutLike(option, t, dataExample, "the --data examples");
        if (fitted.mode() == Standardizer.Mode.NONE) {
            return layout.apply(x);
        }
        try (Tensor standardized = fitted.apply(x)) {
            return layout.apply(standardized);
        }
    }

    /** Trace, mean, min and max, and the first entries. */
    static String summary(Tensor k) {
        double min = Double.POSITIVE_INFINITY;
        double max = Double.NEGATIVE_INFINITY;
        double sum = 0;
        for (int i = 0; i < k.size(); i++) {
            double v = k.getFlat(i);
            min = Math.min(min, v);
            max = Math.max(max, v);
            sum += v;
        }
        StringBuilder sb = new StringBuilder(String.format(Locale.ROOT, "mean %.6g, min %.6g, max %.6g; first:",
                sum / k.size(), min, max));
        for (int i = 0; i < Math.min(6, k.size()); i++) {
            sb.append(String.format(Locale.ROOT, " %.6g", k.getFlat(i)));
        }
        return sb.toString();
    }
}
