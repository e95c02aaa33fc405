package org.ntk4j.cli;

import java.util.concurrent.Callable;
import org.ntk4j.io.InputLayout;
import org.ntk4j.nn.Model;
import org.ntk4j.ntk.CostModel;
import org.ntk4j.ntk.EmpiricalNtk;
import org.ntk4j.ntk.Method;
import org.ntk4j.ntk.TilePlan;
import org.ntk4j.ntk.TilePlanner;
import org.ntk4j.tensor.DType;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code ntk4j explain}: the cost table of the three methods and AUTO's choice, before anything runs. */
@Command(name = "explain", mixinStandardHelpOptions = true,
        footer = {"", "Example:",
            "  ntk4j explain --model 'fcn(depth=3,width=2048,out=8)' --input 3072 --n 16 --kind full"},
        description = {"Print each method's exact FLOPs and peak memory for the given shapes, and AUTO's choice; with "
                + "--tiled, also the tiles a kernel --out run would compute."})
public final class ExplainCommand implements Callable<Integer>, Main.TilesWithOut {
    @Spec
    private CommandSpec spec;

    @Option(names = "--model", description = "Model spec or an ONNX file (default: ${DEFAULT-VALUE}).")
    String model = "fcn(depth=2,width=256,out=10)";

    @Mixin
    ModelArgument modelArgument = new ModelArgument();

    @Option(names = "--n", description = "Number of inputs x1 (default: ${DEFAULT-VALUE}).")
    int n = 64;

    @Option(names = "--n2", description = "Number of inputs x2; omitted: x2 = x1.")
    Integer n2; // null: omitted (x2 = x1); 0 is refused, not read as omitted

    @Option(names = "--input", split = ",", description = "Shape of one example (default: 28,28; an ONNX model: "
            + "its input shape).")
    int[] input;

    @Mixin
    KernelOptions kernel = new KernelOptions();

    @Option(names = "--tiled", description = "Also print the plan of `kernel --out` for these shapes: its tiles, "
            + "method, workers, predicted peak and FLOPs within --memory (or the refusal it would give).")
    boolean tiled;

    @Option(names = "--method", description = "auto, jc, vp or sd, as kernel's --method: a method also prints how "
            + "kernel runs it in memory within --memory (or its refusal); with --tiled, the tiles' method (default: "
            + "${DEFAULT-VALUE}).")
    String method = "auto";

    @Option(names = "--tile", description = "With --tiled: tiles of this many examples, as kernel's --tile.")
    Integer tile;

    @Option(names = "--threads", description = "With --tiled: tiles computed at once, as kernel's --threads.")
    Integer threads;

    /**
     * Refuses, naming the option, examples that no tensor holds: kernel reads its x1 (and x2) into one tensor, tiled
     * or not, so such a plan could never run (before 2026-12-07 it was refused by the shape's check deep inside, "shape
     * [2147483647, 28, 28] has more than 2^31-1 elements; tile the computation", which named no option and gave
     * advice that --tiled does not follow).
     */
    private void requireExamplesFit(String option, int examples) {
        long values = examples;
        for (int d : input) {
            values *= d; // below 2^31 before each product, so the long does not overflow
            if (values > Integer.MAX_VALUE) {
                throw new IllegalArgumentException(option + " " + examples + ": " + examples + " examples of shape "
                        + org.ntk4j.tensor.Shapes.str(input) + " are more than 2^31-1 values, more than one tensor "
                        + "holds (kernel reads them into one, tiled or not); use fewer examples");
            }
        }
    }

    @Override
    public Integer call() {
        if (n < 1) {
            throw new IllegalArgumentException("--n: expected at least 1, got " + n);
        }
        if (n2 != null && n2 < 1) {
            throw new IllegalArgumentException("--n2: expected at least 1 (omitted: x2 = x1), got " + n2);
        }
        ModelArgument.Resolved resolved = modelArgument.resolve(model);
        if (input == null) {
            input = resolved.onnx() != null ? resolved.onnx().inputShape() : new int[] {28, 28};
        }
        for (int d : input) {
            if (d < 1) {
                throw new IllegalArgumentException("--input: an example of shape " + org.ntk4j.tensor.Shapes.str(input)
                        + " has an axis of size " + d + "; every axis needs at least 1 element");
            }
        }
        if (resolved.onnx() == null) {
            // the example as kernel lays out data of this shape: flat s² values are an s×s image for a cnn
            int[] given = input;
            input = KernelOptions.named("--input", () -> InputLayout.exampleShapeFor(resolved.model(), given));
        }
        requireExamplesFit("--n", n);
        if (n2 != null) {
            requireExamplesFit("--n2", n2);
        }
        if (!tiled && (tile != null || threads != null)) {
            throw new IllegalArgumentException((tile != null ? "--tile" : "--threads")
                    + ": only with --tiled (explain prints every method's cost; --tiled plans the tiles of "
                    + "kernel --out)");
        }
        if (tile != null) {
            TiledRun.tileOption(tile); // refused before the table is printed, as kernel refuses it
        }
        TiledRun.threads(threads);
        Method explicit = KernelOptions.parsed("--method", method, Method::parse);
        if (tiled && kernel.explicitAxes()) {
            throw new IllegalArgumentException("--tiled: kernel --out tiles kinds (--kind), not --trace-axes or "
                    + "--diagonal-axes");
        }
        long budget = kernel.memoryBudget();
        Model m = resolved.model();
        kernel.requireAxesFit(m, input);
        int[][] axes = kernel.axes();
        org.ntk4j.ntk.KernelKind kind =
                KernelOptions.parsed("--kind", kernel.kindText(0),
                        t -> org.ntk4j.ntk.KernelKind.parse(t, 0));
        if (!kernel.explicitAxes()) {
            KernelOptions.requireMethodApplies(explicit, kind);
        }
        if (!kernel.explicitAxes() && kind.wrapsModel()) {
            m = KernelOptions.requireKindFits("--kind", kind, m, input, budget);
        }
        DType dtype = KernelOptions.parsed("--dtype", kernel.dtype, DType::parse); // parsed once, for every figure
        CostModel cost = new CostModel(m, input, dtype, n, n2 == null ? 0 : n2, axes[0], axes[1]);
        // AUTO's refusal in the table advises tiles with --out, which the axes form is not computed in
        spec.commandLine().getOut().print(Main.tileAdviceFor(this, cost.explain(budget)));
        if (!kernel.explicitAxes() && kind.isSketched()) {
            // projected:K runs none of the three methods: the table above is the trace kernel's, for comparison
            spec.commandLine().getOut().println("kind " + kind + ": computed by none of these methods and not as auto "
                    + "chooses: per-example Jacobian rows, formed as jc forms them, each sketched to K = "
                    + kind.argument() + " columns, then one N1 × N2 contraction over O × K; the table is that of the "
                    + "trace kernel it estimates");
            spec.commandLine().getOut().println("kind " + kind + " in memory (kernel without --out): "
                    + sketchedInMemory(resolved.model(), kind, dtype, budget));
        }
        spec.commandLine().getOut().flush(); // the table stays before a refusal of the tiles (on stderr)
        if (!tiled && explicit != Method.AUTO && (kernel.explicitAxes() || !kind.isSketched())) {
            // what kernel --method M runs in memory within --memory, or the refusal it gives (on stderr); with
            // --tiled, the plan of kernel --out below instead
            CostModel.Estimate e = cost.planned(explicit, budget);
            if (Double.isInfinite(e.flops())) { // no count and no peak, as in the table (was "Infinity FLOPs,
                // predicted peak 8388608.0 TiB"): the note says why, as the kernel's refusal does
                spec.commandLine().getOut().printf(java.util.Locale.ROOT, "kernel --method %s in memory: %s%n",
                        explicit.shortName(), e.note());
            } else {
                spec.commandLine().getOut().printf(java.util.Locale.ROOT, "kernel --method %s in memory: %.4g "
                        + "FLOPs, predicted peak %s of the %s budget; %s%n", explicit.shortName(), e.flops(),
                        CostModel.human(e.peakBytes()), CostModel.human(budget), e.note());
            }
            spec.commandLine().getOut().flush();
        }
        if (tiled) {
            spec.commandLine().getOut().println(tiledPlan(resolved.model(), kind, explicit, dtype, budget));
        }
        if (resolved.onnx() != null) {
            spec.commandLine().getOut().print(OnnxParameters.describe(resolved.onnx(), input, cost));
        }
        spec.commandLine().getOut().flush();
        return 0;
    }

    /**
     * projected:K's in-memory cost within the budget (its example chunks), or why no chunk fits. The cost reads
     * shapes only, so no parameters are made ({@link EmpiricalNtk#ofShapes}).
     */
    private String sketchedInMemory(Model net, org.ntk4j.ntk.KernelKind kind, DType dtype, long budget) {
        try {
            CostModel.Estimate e = org.ntk4j.ntk.KernelJob.sketchedInMemory(EmpiricalNtk.ofShapes(net)
                    .memoryBudget(budget), kind, n, n2 == null ? 0 : n2, input, dtype);
            return String.format(java.util.Locale.ROOT, "%.3g FLOPs, peak %s (budget %s); %s", e.flops(),
                    CostModel.human(e.peakBytes()), CostModel.human(budget), e.note());
        } catch (IllegalArgumentException e) {
            return e.getMessage();
        }
    }

    /**
     * The line {@code kernel --out} prints for its plan. The planner reads shapes only, so no parameters are made
     * ({@link EmpiricalNtk#ofShapes}: no draw, no ONNX weights read, nothing of their size allocated); an impossible
     * plan fails as the run would, naming the budget it needs.
     */
    private String tiledPlan(Model net, org.ntk4j.ntk.KernelKind kind, Method m, DType dtype, long budget) {
        EmpiricalNtk ntk = EmpiricalNtk.ofShapes(net).method(m).memoryBudget(budget);
        TilePlanner planner = TilePlanner.of(ntk, kind).budget(budget).workers(TiledRun.threads(threads));
        if (tile != null) {
            planner.tile(TiledRun.tileOption(tile));
        }
        TilePlan plan = planner.plan(n, n2 == null ? 0 : n2, input, dtype);
        return "kernel --out: " + TiledRun.planLine(kind, "", plan);
    }

    /** The plan of kernel's: a kind may be computed in tiles with --out, the axes form only in memory. */
    @Override
    public boolean tilesWithOut() {
        return !kernel.explicitAxes();
    }
}
