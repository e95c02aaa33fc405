package org.ntk4j.cli;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import org.ntk4j.io.DataSource;
import org.ntk4j.io.InputLayout;
import org.ntk4j.io.JsonReport;
import org.ntk4j.io.Npy;
import org.ntk4j.io.ParamsFile;
import org.ntk4j.io.Standardizer;
import org.ntk4j.io.TileStore;
import org.ntk4j.nn.Model;
import org.ntk4j.nn.Params;
import org.ntk4j.nn.Zoo;
import org.ntk4j.ntk.CostModel;
import org.ntk4j.ntk.EmpiricalNtk;
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
        description = "Compute the empirical NTK Θ(x1, x2) = J(x1) J(x2)ᵀ of a model at its parameters.")
public final class KernelCommand implements Callable<Integer> {
    @Spec
    private CommandSpec spec;

    @Option(names = "--model", description = "Model spec (see 'ntk4j models'; default: ${DEFAULT-VALUE}).")
    String model = "fcn(depth=2,width=256,out=10)";

    @Option(names = "--data", description = "x1: a data source: default:train|test[:N] (the embedded "
            + "Fashion-MNIST subset), fashion-mnist:train|test[:N], a .npy/.npz/.csv/IDX file, or synthetic:N,D1[,D2...] "
            + "(see README, Data sources; default: ${DEFAULT-VALUE}, the first 500 embedded training images).")
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

    @Option(names = "--seed", description = "Seed of the parameters and synthetic data (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--params-in", description = "Parameters to use (.npz, as written by --params-out).")
    Path paramsIn;

    @Option(names = "--params-out", description = "Write the parameters used (.npz; NumPy reads it).")
    Path paramsOut;

    @Option(names = "--out", description = "Write the kernel as .npy.")
    Path out;

    @Option(names = "--report", description = "Write a JSON report: method, shapes, seconds, FLOPs, peak bytes.")
    Path report;

    /** 0: not given (the largest tile that fits --memory). */
    int tile;

    @Option(names = "--tile", paramLabel = "<tile>", description = "With --out: tiles of this many examples (rounded "
            + "up to a multiple of 16); default: the largest that fits --memory.")
    void setTile(int value) {
        if (value < 1) {
            throw new picocli.CommandLine.ParameterException(spec.commandLine(), "--tile must be at least 1, got "
                    + value);
        }
        tile = value;
    }

    @Option(names = "--resume", description = "With --out: continue the unfinished run of OUT (OUT.partial and "
            + "OUT.manifest), recomputing no finished tile.")
    boolean resume;

    @Option(names = "--threads", description = "With --out: tiles computed at once, each with one BLAS thread "
            + "(default: the number of cores); the result does not depend on it.")
    Integer threads;

    @Mixin
    OverwriteOption overwrite = new OverwriteOption();

    @Option(names = "--quiet", description = "No progress on stderr.")
    boolean quiet;

    @Option(names = "--spark", arity = "0..1", fallbackValue = "", paramLabel = "MASTER", description = "With --out: "
            + "compute the tiles on Apache Spark at MASTER (local[k], spark://host:port; nothing under spark-submit, "
            + "which sets it); OUT must be a path every executor reaches. Needs ntk4j-spark (the launcher adds it).")
    String spark;

    @Override
    public Integer call() throws Exception {
        DType dt = DType.parse(kernel.dtype);
        Method m = Method.parse(method);
        org.ntk4j.ntk.KernelKind kind = org.ntk4j.ntk.KernelKind.parse(kernel.explicitAxes() ? "trace" : kernel.kind,
                seed);
        int[][] axes = kernel.axes();
        long budget = kernel.memoryBudget();
        Model net = Zoo.parse(model);
        Standardizer.Mode standardization = Standardizer.Mode.parse(standardize);
        boolean tiled = out != null && !kernel.explicitAxes();
        if (!tiled && (resume || tile != 0 || threads != null || spark != null)) {
            throw new IllegalArgumentException((resume ? "--resume" : tile != 0 ? "--tile"
                    : threads != null ? "--threads" : "--spark")
                    + ": only for a tiled run, which writes its kernel with --out (and --kind, not axes)");
        }
        // Before any work: every output is checked, and a tiled run claims OUT (its lock, its unfinished run)
        overwrite.outputs().inputSource("--data", data).inputSource("--x2", x2).input("--params-in", paramsIn)
                .output("--out", out, ".npy").output("--params-out", paramsOut, ".npz")
                .output("--report", report, ".json").check();
        try (TileStore.RunLock claim = tiled ? TiledRun.claim(this, m) : null) {
            return compute(dt, m, kind, axes, budget, net, standardization);
        }
    }

    private int compute(DType dt, Method m, org.ntk4j.ntk.KernelKind kind, int[][] axes, long budget, Model net,
                        Standardizer.Mode standardization) throws java.io.IOException {
        PrintWriter o = spec.commandLine().getOut();
        try (Tensor loaded1 = DataSource.load(data, dt, seed);
             Tensor loaded2 = x2 == null ? null : DataSource.load(x2, dt, seed + 1);
             Tensor x1 = prepare(net, KernelOptions.fitStandardizer(loaded1, standardization, "--data " + data,
                     spec.commandLine().getErr()), loaded1);
             Tensor xb = loaded2 == null ? null : prepare(net, Standardizer.fit(loaded1, standardization), loaded2)) {
            int[] perExample = Shapes.dropFirst(x1.shape());
            if (xb != null && !java.util.Arrays.equals(perExample, Shapes.dropFirst(xb.shape()))) {
                throw new IllegalArgumentException("shape mismatch: --x2 examples " + Shapes.str(Shapes.dropFirst(
                        xb.shape())) + " differ from --data examples " + Shapes.str(perExample));
            }
            if (!kernel.explicitAxes()) {
                KernelOptions.requireProbesFit(kind, net, perExample, budget);
            }
            Params p = paramsIn != null ? ParamsFile.load(paramsIn, net, perExample, dt)
                    : net.init(seed, perExample, dt);
            try {
                if (paramsOut != null) {
                    ParamsFile.save(p, paramsOut);
                }
                if (out != null && !kernel.explicitAxes()) {
                    new TiledRun(this, net, p, x1, xb, kind, m, budget, dt).run(o, spec.commandLine().getErr());
                    o.flush();
                    return 0;
                }
                EmpiricalNtk base = EmpiricalNtk.of(net, p).method(m).memoryBudget(budget);
                EmpiricalNtk ntk = kernel.explicitAxes() ? base.traceAxes(axes[0]).diagonalAxes(axes[1])
                        : base.forKind(kind, perExample);
                int n1 = x1.dim(0);
                int n2 = xb == null ? 0 : xb.dim(0);
                CostModel cost = ntk.costModel(n1, n2, perExample, dt);
                Method used = ntk.resolveMethod(n1, n2, perExample, dt);
                CostModel.Estimate est = cost.estimate(used);
                boolean sketched = !kernel.explicitAxes()
                        && kind.family() == org.ntk4j.ntk.KernelKind.Family.PROJECTED;
                Tensor.resetPeakBytes();
                long before = Tensor.liveBytes();
                long start = System.nanoTime();
                try (Tensor k = sketched ? base.kernel(kind, x1, xb) : ntk.ntk(x1, xb)) {
                    double seconds = (System.nanoTime() - start) / 1e9;
                    long peak = Tensor.peakBytes() - before;
                    o.printf(Locale.ROOT, "model %s: %d parameters; x1 %s%s; %s%n", net.spec(), p.count(),
                            Shapes.str(x1.shape()), xb == null ? " (x2 = x1)" : ", x2 " + Shapes.str(xb.shape()),
                            dt.shortName());
                    o.printf(Locale.ROOT, "kind %s, method %s%s: %.3f s, %.3g FLOPs predicted, %.2f GFLOP/s, peak %s "
                                    + "(predicted %s)%n", kernel.explicitAxes() ? "axes" : kind,
                            sketched ? "jc rows + sketch" : used.shortName(), m == Method.AUTO ? " (auto)" : "",
                            seconds, est.flops(), est.flops() / seconds / 1e9, CostModel.human(peak),
                            CostModel.human(est.peakBytes()));
                    o.printf(Locale.ROOT, "kernel %s %s%n", Shapes.str(k.shape()), summary(k));
                    if (out != null) {
                        Npy.write(out, k);
                        o.println("wrote " + out);
                    }
                    if (report != null) {
                        new JsonReport().put("model", net.spec()).put("kind", kernel.explicitAxes() ? "axes" : kind.toString())
                                .put("method", used.shortName())
                                .put("auto", m == Method.AUTO).put("dtype", dt.shortName())
                                .put("x1_shape", x1.shape())
                                .put("x2_shape", xb == null ? x1.shape() : xb.shape())
                                .put("x2_is_x1", xb == null).put("trace_axes", axes[0]).put("diagonal_axes", axes[1])
                                .put("kernel_shape", k.shape()).put("parameters", p.count())
                                .put("seconds", seconds).put("predicted_flops", est.flops())
                                .put("achieved_flops_per_second", est.flops() / seconds)
                                .put("peak_bytes", peak).put("predicted_peak_bytes", est.peakBytes())
                                .put("memory_budget_bytes", budget).write(report);
                        o.println("wrote " + report);
                    }
                }
            } finally {
                p.close();
            }
        }
        o.flush();
        return 0;
    }

    /**
     * {@code x} standardised as {@code fitted} (fitted on --data) and laid out for the model
     * ({@link InputLayout}: fails with "shape mismatch" when the examples fit no input shape of the model).
     */
    static Tensor prepare(Model net, Standardizer fitted, Tensor x) {
        if (fitted.mode() == Standardizer.Mode.NONE) {
            return InputLayout.forModel(net, x);
        }
        try (Tensor standardized = fitted.apply(x)) {
            return InputLayout.forModel(net, standardized);
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
