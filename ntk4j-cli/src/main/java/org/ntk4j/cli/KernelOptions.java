package org.ntk4j.cli;

import java.util.Locale;
import org.ntk4j.io.Dataset;
import org.ntk4j.ntk.EmpiricalNtk;
import picocli.CommandLine.Option;

/** Options shared by the commands that describe a kernel: its kind or axes, dtype and memory budget. */
final class KernelOptions {
    @Option(names = "--kind", description = "full (N×N×O×O), trace (N×N, mean over logits; default), diagonal "
            + "(N×N×O), pntk, pntk-unscaled, logit:K, probes:R, projected:K (docs/kernels.md gives the formulas).")
    String kind = "trace";

    @Option(names = "--trace-axes", description = "Axes of f(x) to average over, comma-separated, negative from the "
            + "end, or none (overrides --kind full, trace or diagonal; refused with the other kinds; with "
            + "--diagonal-axes alone, nothing is traced).",
            converter = AxesConverter.class)
    Axes traceAxes;

    @Option(names = "--diagonal-axes", description = "Axes of f(x) to keep the diagonal of, comma-separated, or none "
            + "(overrides --kind full, trace or diagonal; refused with the other kinds).",
            converter = AxesConverter.class)
    Axes diagonalAxes;

    @Option(names = "--dtype", description = "f32 or f64 (default: ${DEFAULT-VALUE}).")
    String dtype = "f32";

    @Option(names = "--memory", description = "Memory budget of the kernel, AUTO's or --method's (refused before any "
            + "work when that method fits it in no steps), with --out the tiles', with --infinite the kernel's, e.g. "
            + "512m, 8g (default: 80%% of the off-heap limit, which is -Xmx unless -Dorg.bytedeco.javacpp.maxBytes is "
            + "set).")
    String memory;

    /** True when --trace-axes or --diagonal-axes was given (they override --kind full, trace or diagonal). */
    boolean explicitAxes() {
        return traceAxes != null || diagonalAxes != null;
    }

    /**
     * The --kind text the command computes: --kind itself, or, with --trace-axes or --diagonal-axes (which override
     * the axis presets full, trace and diagonal), "trace" for the plain kernel of f(x) with those axes. A kind that
     * projects the logits or sketches the parameters (pntk, pntk-unscaled, logit:K, probes:R, projected:K) is not a
     * choice of axes: with explicit axes it is refused rather than dropped, since the user asked for two kernels.
     *
     * @param seed the seed the command parses seeded kinds with
     * @return --kind as given, or "trace" with explicit axes
     */
    String kindText(long seed) {
        if (!explicitAxes()) {
            return kind;
        }
        org.ntk4j.ntk.KernelKind k = parsed("--kind", kind, t -> org.ntk4j.ntk.KernelKind.parse(t, seed));
        if (!k.isAxesKind()) {
            throw new IllegalArgumentException("--kind " + k + ": does not combine with "
                    + (traceAxes != null ? "--trace-axes" : "--diagonal-axes") + ", which gives the plain kernel of "
                    + "f(x) with those axes (the axes override only full, trace and diagonal); drop one");
        }
        return "trace";
    }

    int[][] axes() {
        int[] t;
        int[] d;
        switch (explicitAxes() ? "trace" : kind.toLowerCase(Locale.ROOT)) {
            case "full":
                t = new int[0];
                d = new int[0];
                break;
            case "trace":
                t = new int[] {-1};
                d = new int[0];
                break;
            case "diagonal":
                t = new int[0];
                d = new int[] {-1};
                break;
            default:
                // an N×N approximation kind: its own computation, with the trace axis
                t = new int[] {-1};
                d = new int[0];
        }
        if (traceAxes != null || diagonalAxes != null) {
            t = traceAxes != null ? traceAxes.axes.clone() : new int[0];
            d = diagonalAxes != null ? diagonalAxes.axes.clone() : new int[0];
        }
        return new int[][] {t, d};
    }

    /**
     * The command's budget ({@link #memoryBudget(String)}), which also bounds the storage closed tensors keep for
     * reuse while the command runs ({@link Main#boundPooledStorage}).
     */
    long memoryBudget() {
        return Main.boundPooledStorage(memoryBudget(memory));
    }

    /**
     * Refuses, before any work, --trace-axes or --diagonal-axes that the model's outputs do not have (or that name an
     * axis twice), naming the options: the library's refusal, reached when the kernel is planned, names its
     * parameters ("trace axes [5]: axis 5 is out of range for f(x) of rank 2").
     *
     * @param net the model
     * @param perExample one example's shape
     */
    void requireAxesFit(org.ntk4j.nn.Model net, int[] perExample) {
        if (!explicitAxes()) {
            return;
        }
        int[][] a = axes();
        try {
            new org.ntk4j.ntk.KernelAxes(1 + net.outputShape(perExample).length, a[0], a[1]);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(e.getMessage().replace("trace axes [", "--trace-axes [")
                    .replace("diagonal axes [", "--diagonal-axes ["), e);
        }
    }

    /**
     * The budget a --memory value gives (null: the default, a safe share of the off-heap limit). A budget above
     * that limit (JavaCPP's maxBytes) is refused: the tensors it plans for could not be allocated.
     *
     * <p>Parsing only: the commands' {@link #memoryBudget()} and {@link MemoryOption#budget()} also make the budget
     * the bound of the storage closed tensors keep for reuse while the command runs ({@link Main#boundPooledStorage}).
     */
    static long memoryBudget(String memory) {
        long budget;
        if (memory == null) {
            budget = EmpiricalNtk.defaultMemoryBudget();
        } else {
            long limit = org.ntk4j.tensor.NativeMemory.maxBytes();
            if (limit > 0 && parseSize("--memory", memory) > limit) {
                throw new IllegalArgumentException("--memory " + memory.trim() + ": above this JVM's off-heap limit "
                        + "of " + org.ntk4j.ntk.CostModel.human(limit) + " (-Xmx, or -Dorg.bytedeco.javacpp.maxBytes; "
                        + "set them with NTK4J_JAVA_OPTS)");
            }
            budget = parseBytes("--memory", memory);
        }
        return budget;
    }

    /** 123, 64k, 512m, 8g (powers of 1024). */
    static long parseBytes(String option, String text) {
        double bytes = parseSize(option, text);
        if (bytes < 1) { // truncated, 0.5 was a budget of 0 bytes, refused as "memory budget: ... got 0"
            throw new IllegalArgumentException(option + " " + text.trim() + ": less than one byte; expected a positive "
                    + "size such as 512m or 8g");
        }
        if (bytes >= 0x1p63) {
            throw new IllegalArgumentException(option + " " + text.trim() + ": too large (at most "
                    + org.ntk4j.ntk.CostModel.human(Long.MAX_VALUE) + ")");
        }
        return (long) bytes;
    }

    /** {@link #parseBytes} as a double, which does not overflow. */
    private static double parseSize(String option, String text) {
        String t = text.trim().toLowerCase(Locale.ROOT);
        long mult = 1;
        if (t.endsWith("k") || t.endsWith("m") || t.endsWith("g") || t.endsWith("t")) {
            char u = t.charAt(t.length() - 1);
            mult = u == 'k' ? 1L << 10 : u == 'm' ? 1L << 20 : u == 'g' ? 1L << 30 : 1L << 40;
            t = t.substring(0, t.length() - 1);
        }
        try {
            // a decimal number only: Double.parseDouble also takes Java's suffixes, so "8d" or "512f" were 8 and 512
            // bytes
            if (!t.matches("(\\d+(\\.\\d*)?|\\.\\d+)(e[+-]?\\d+)?")) {
                throw new NumberFormatException();
            }
            double v = Double.parseDouble(t);
            if (!(v > 0)) {
                throw new NumberFormatException();
            }
            return v * mult;
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(option + ": expected a positive size such as 512m or 8g, got '"
                    + text + "'");
        }
    }

    /**
     * Parses an option's value with the library's parser, its refusal naming the option as the user typed it: the
     * library names its own parameter ("dtype: expected f32 or f64, got 'x'"), the command line its option
     * ("--dtype: expected f32 or f64, got 'x'").
     *
     * @param option the option as typed, e.g. "--dtype"
     * @param value the value given
     * @param parser the library's parser
     * @return the parsed value
     */
    static <T> T parsed(String option, String value, java.util.function.Function<String, T> parser) {
        return named(option, () -> parser.apply(value));
    }

    /**
     * The name by which the command line gave an option of several names (convergence's and study's
     * {@code --report} and {@code --json}), so that its messages name the option as typed; the first name when none
     * was typed (the option left out, its default in use).
     *
     * @param spec the command
     * @param names the option's names, the first its usual one
     * @return the name typed, or {@code names[0]}
     */
    static String typedName(picocli.CommandLine.Model.CommandSpec spec, String... names) {
        // the arguments as parsed, an @-file's read in place (originalArgs has "@args.txt", whose --json was named
        // by the first name, --report, before this late-night review of 2026-12-07)
        for (String arg : spec.commandLine().getParseResult().expandedArgs()) {
            if (arg.equals("--")) {
                break; // the rest are positional, whatever they read like
            }
            for (String name : names) {
                if (arg.equals(name) || arg.startsWith(name + "=")) {
                    return name;
                }
            }
        }
        return names[0];
    }

    /**
     * Refuses a typed {@code --seed} that would draw nothing, rather than ignore it (kernel, predict, spectrum): the
     * seed draws the parameters (a zoo model's initialisation), synthetic data ({@code synthetic:N,D...}) and the
     * directions of a seeded kind ({@code probes:R}, {@code projected:K}); with the parameters read or absent and
     * none of the others it draws nothing. The default seed, not typed, is no request.
     *
     * @param spec the command
     * @param noParametersDrawn why no parameters are drawn, e.g. "--params-in P.npz" or "--infinite (no
     *     parameters)"; null when the seed draws them
     * @param kind the kind computed, or null where explicit axes replace it (a plain kernel)
     * @param dataSources the data sources the command reads with the seed (null entries ignored)
     */
    static void requireSeedDraws(picocli.CommandLine.Model.CommandSpec spec, String noParametersDrawn,
                                 org.ntk4j.ntk.KernelKind kind, String... dataSources) {
        if (noParametersDrawn == null || !spec.commandLine().getParseResult().hasMatchedOption("--seed")
                || kind != null && kind.isSeeded()) {
            return;
        }
        for (String source : dataSources) {
            if (source != null && source.strip().toLowerCase(Locale.ROOT).startsWith("synthetic:")) {
                return;
            }
        }
        throw new IllegalArgumentException("--seed: draws the parameters, synthetic data and probes:R's or "
                + "projected:K's directions; with " + noParametersDrawn + " and none of the others it would draw "
                + "nothing; drop it");
    }

    /**
     * {@link Dataset#requireLabelsBelow} of the data an option gave, its refusal naming the option as the loaders'
     * do ("--test 'x.npy': has no labels; ...", "--train 'x.npy:labels=y.npy': label 2 of example 2 is outside
     * [0, 2) ..."): predict's and train's --train and --test may be the same file, and "x.npy: has no labels" did
     * not say which of the two was meant.
     *
     * @param option the option that gave the data, e.g. "--test"
     * @param data the data
     * @param classes the model's outputs
     * @param what what needs the labels, for the message
     * @throws IllegalArgumentException naming the option and its source when a label is missing or not below classes
     */
    static void requireLabelsBelow(String option, Dataset data, int classes, String what) {
        try {
            data.requireLabelsBelow(classes, what);
        } catch (IllegalArgumentException e) {
            String message = e.getMessage() == null ? "" : e.getMessage();
            String name = data.name();
            throw new IllegalArgumentException(message.startsWith(name + ":")
                    ? option + " '" + name + "'" + message.substring(name.length()) : option + ": " + message, e);
        }
    }

    /**
     * Runs a check or a read of the library on an option's value ({@link #parsed}), its refusal naming the option:
     * the library's leading name of a parameter or a data source ("kind: logit:5 but the model has 3 outputs",
     * "kind pntk: needs outputs [N, O]", "data source 'x.npy': file not found") becomes the option ("--kind:
     * logit:5 but ...", "--kind pntk: needs ...", "--x2 'x.npy': file not found"); a message naming neither gets the
     * option in front, as does a file that could not be opened or read ("--params-in: file not found: p.npz").
     *
     * @param option the option as typed, e.g. "--kind"
     * @param check the library's check or read
     * @return what it returns
     * @throws IllegalArgumentException the refusal, or a read's failure, naming the option
     */
    static <T> T named(String option, LibraryCall<T> check) {
        try {
            return check.call();
        } catch (IllegalArgumentException e) {
            throw renamed(option, e);
        } catch (java.io.IOException e) {
            // a file that could not be opened (the JDK's message is the path alone: Main.message names the problem)
            // or read: "--params-in: file not found: p.npz", "--params-in: p.npz: not a .npz file (...)"
            throw new IllegalArgumentException(option + ": " + Main.message(e), e);
        }
    }

    /**
     * Refuses, before any data is read, a {@code --params-in} that is a directory, in the line that reading it would
     * give ("--params-in DIR: a directory; expected a .npz file of parameters, ..."), not the JDK's "(Is a
     * directory)" once the data are loaded. A missing or unreadable file is left to the read, which names it.
     *
     * @param paramsIn the option's value, or null when not given
     * @throws IllegalArgumentException if it is a directory
     */
    static void requireParamsFile(java.nio.file.Path paramsIn) {
        named("--params-in", () -> {
            org.ntk4j.io.ParamsFile.requireNotDirectory(paramsIn);
            return null;
        });
    }

    /**
     * The library's refusal {@code e} naming {@code option} ({@link #named}); {@code e} itself if it names an option
     * already. The library's leading name is replaced only by the option that gives that parameter ("kind: ..." by
     * --kind or --kinds, "data source '...'" by the options that read data): another leading name is the library's
     * word for something else than the option's value ("dtype: ..." from a file read for --params-in), kept after
     * "OPTION: ", not overwritten with a wrong name. A message that opens with a command-line option (the library's
     * own refusal worded for the command line, "--kinds ...") is returned as it is: the option in front would name
     * two, or one twice. Option names are compared whole ("--kind" is not the start of "--kinds ...").
     */
    static IllegalArgumentException renamed(String option, IllegalArgumentException e) {
        String message = e.getMessage() == null ? "invalid value" : e.getMessage();
        if (LEADING_OPTION.matcher(message).lookingAt()) {
            return e;
        }
        java.util.regex.Matcher lead = LIBRARY_NAME.matcher(message);
        boolean own = lead.lookingAt() && lead.group(1).equals(libraryName(option));
        return new IllegalArgumentException(own ? option + message.substring(lead.end()) : option + ": " + message, e);
    }

    /**
     * The library's name of what {@code option} gives: dtype, method, kind or standardisation for those options, a
     * data source for any other (--data, --x2, --train, --test, --sample, --labels: the options that read data).
     */
    private static String libraryName(String option) {
        switch (option) {
            case "--dtype":
                return "dtype";
            case "--method":
                return "method";
            case "--kind":
            case "--kinds":
                return "kind";
            case "--standardize":
                return "standardisation";
            default:
                return "data source";
        }
    }

    /** A command-line option opening a message: "--kind:", "--kinds logit:5 ...", "--params-in" alone. */
    private static final java.util.regex.Pattern LEADING_OPTION =
            java.util.regex.Pattern.compile("--[a-z0-9][a-z0-9-]*(?=[: ]|$)");

    /**
     * A call of the library that may read a file.
     *
     * @param <T> what it returns
     */
    @FunctionalInterface
    interface LibraryCall<T> {
        /**
         * Makes the call.
         *
         * @return its result
         * @throws java.io.IOException as a read throws it
         */
        T call() throws java.io.IOException;
    }

    /** The library's names of what it was given, opening its refusals: "dtype: ...", "data source 'x': ...". */
    private static final java.util.regex.Pattern LIBRARY_NAME =
            java.util.regex.Pattern.compile("(dtype|method|kind|standardisation|data source)(?=[: ])");

    /**
     * The N×N kinds of a {@code --kinds} list ({@code approx}, {@code study}): each parsed, required N×N, and none
     * given twice in any spelling (one row and one set of report keys per kind: a repeat would print its row twice
     * and overwrite its own figures).
     */
    static java.util.List<org.ntk4j.ntk.KernelKind> squareKinds(java.util.List<String> kinds, long seed) {
        java.util.List<org.ntk4j.ntk.KernelKind> list = new java.util.ArrayList<>();
        for (String k : kinds) {
            org.ntk4j.ntk.KernelKind kk = parsed("--kinds", k, t -> org.ntk4j.ntk.KernelKind.parse(t, seed));
            if (!kk.isSquare()) {
                throw new IllegalArgumentException("--kinds: " + k + " is not an N×N kind");
            }
            list.add(kk);
        }
        requireDistinct("--kinds", "kind", list, org.ntk4j.ntk.KernelKind::toString);
        return list;
    }

    /**
     * Refuses a value of a list option given twice ("--widths: width 16 is given twice"), the values compared as
     * {@code key} gives them (a kind by its canonical name, a time by its value) and named by it.
     */
    static <T> void requireDistinct(String option, String noun, java.util.List<T> values,
                                    java.util.function.Function<T, ?> key) {
        java.util.Set<Object> seen = new java.util.HashSet<>();
        for (T v : values) {
            if (!seen.add(key.apply(v))) {
                throw new IllegalArgumentException(option + ": " + noun + " " + v + " is given twice");
            }
        }
    }

    /**
     * Refuses, before any work and naming {@code option}, a kind the model cannot have: one that projects the logits
     * (pntk, logit:K, probes:R) of a model whose outputs are not [N, O], or logit:K with K beyond its outputs; and
     * {@code probes:R} when its R×O probe matrix would not fit the memory budget, before anything allocates it (it
     * is built in float64 three times over: the probes, the layer's copy and its transpose).
     *
     * @param option the option that gave the kind, e.g. "--kind"
     * @return the model the kind's cost is priced on: {@code net} wrapped by the kind ({@code wrapForCost}), or
     *     {@code net} where the kind does not wrap it
     */
    static org.ntk4j.nn.Model requireKindFits(String option, org.ntk4j.ntk.KernelKind kind, org.ntk4j.nn.Model net,
                                              int[] perExample, long budget) {
        if (!kind.wrapsModel()) {
            return net;
        }
        int[] out = net.outputShape(perExample);
        if (kind.hasProbes() && out.length == 1) {
            long bytes = kind.probeMatrixBytes(out[0]);
            if (bytes > budget) {
                throw new IllegalArgumentException(option + " " + kind + ": R = " + kind.argument() + " probes of "
                        + out[0] + " outputs need " + org.ntk4j.ntk.CostModel.human(bytes) + " for the probe "
                        + "matrix, above the memory budget of " + org.ntk4j.ntk.CostModel.human(budget)
                        + " (--memory)");
            }
        }
        // the wrapped model is kept by the base model, so the kernel's own wrapping finds it
        try {
            return kind.wrapForCost(net, perExample);
        } catch (IllegalArgumentException e) {
            throw renamed(option, e);
        }
    }

    /**
     * Checks, before any work, that the kernels a command will compute fit its memory budget, each in the one line
     * the kernel call itself would give once reached (AUTO: no method fits; an explicit method: it fits in no steps;
     * projected:K: not even chunks of one example fit). Of several refused, the one naming the largest least budget
     * is thrown, so that budget, given back, fits them all (projected:K's is thrown only when no other kernel is
     * refused: its least is named once the others fit). The costs read shapes only: the parameters may be zeros.
     */
    static final class BudgetCheck {
        private IllegalArgumentException refusal;
        private long least = -1;

        /**
         * Checks one kernel.
         *
         * @param ntk the model, method and budget the command computes with (its parameters, if any, are not read:
         *     {@link EmpiricalNtk#ofShapes} prices a model without them)
         * @param kind the kernel's kind
         * @param n1 examples of x1
         * @param n2 examples of x2, or 0 for x2 = x1
         * @param perExample one example's shape
         * @param dtype the kernel's dtype
         * @return this check
         */
        BudgetCheck kernel(EmpiricalNtk ntk, org.ntk4j.ntk.KernelKind kind, int n1, int n2, int[] perExample,
                           org.ntk4j.tensor.DType dtype) {
            if (kind.isSketched()) {
                try {
                    org.ntk4j.ntk.KernelJob.sketchedInMemory(ntk, kind, n1, n2, perExample, dtype);
                } catch (IllegalArgumentException e) {
                    if (refusal == null) {
                        refusal = e;
                        least = 0;
                    }
                }
                return this;
            }
            org.ntk4j.ntk.CostModel c = ntk.forKind(kind, perExample).costModel(n1, n2, perExample, dtype);
            try {
                c.planned(ntk.method(), ntk.memoryBudget());
            } catch (IllegalArgumentException e) {
                long needs = c.leastBudget(ntk.method());
                if (needs > least) {
                    refusal = e;
                    least = needs;
                }
            }
            return this;
        }

        /**
         * Throws the refusal naming the largest least budget, if any kernel was refused (its advice of tiles, which
         * only kernel has, is taken out where the command reports it: {@link Main.TilesWithOut}).
         */
        void requireAllFit() {
            if (refusal != null) {
                throw refusal;
            }
        }
    }

    /**
     * Refuses, before any work, an explicit --method (other than auto, the default) where the kernel computed runs no
     * NTK method, so that the method would be ignored without a word.
     *
     * @param m the method given
     * @param what the kernel computed instead and how, e.g. "--nngp: the NNGP (forward passes and one contraction)"
     */
    static void requireNoNtkMethod(org.ntk4j.ntk.Method m, String what) {
        if (m != org.ntk4j.ntk.Method.AUTO) {
            refuseIgnoredMethod(m, what + " runs no NTK method", "drop it");
        }
    }

    /**
     * Refuses, before any work, an explicit --method that the kind would ignore: projected:K sketches per-example
     * Jacobian rows, formed as Jacobian contraction forms them whatever the method, so only jc (and auto) is what
     * runs; vp and sd would be ignored without a word. Every other kind runs the method given.
     *
     * @param m the method given
     * @param kind the kernel's kind
     */
    static void requireMethodApplies(org.ntk4j.ntk.Method m, org.ntk4j.ntk.KernelKind kind) {
        if (kind.isSketched() && m != org.ntk4j.ntk.Method.AUTO && m != org.ntk4j.ntk.Method.JACOBIAN_CONTRACTION) {
            refuseIgnoredMethod(m, "--kind " + kind + " sketches Jacobian rows formed as jc forms them, whatever the "
                    + "method", "drop it, or give jc");
        }
    }

    /** The one refusal of a --method that would be ignored: why it is, and what to do instead. */
    private static void refuseIgnoredMethod(org.ntk4j.ntk.Method m, String why, String instead) {
        throw new IllegalArgumentException("--method " + m.shortName() + ": " + why + ", so --method does not apply; "
                + instead);
    }

    /**
     * Refuses, naming {@code option}, examples of another size than those they go with (predict's and train's --test
     * against --train, kernel's --x2 against --data), before the standardisation fitted on the others is applied to
     * them and before they are laid out for the model: the refusals there name neither option. Examples of the same
     * size but another shape (a flat CSV against images) are left to the layout.
     *
     * @param option the option of the examples checked, e.g. "--test"
     * @param shape one of their examples' shape
     * @param reference what they go with, e.g. "the training examples"
     * @param referenceShape one of those examples' shape
     */
    static void requireExampleSize(String option, int[] shape, String reference, int[] referenceShape) {
        if (org.ntk4j.tensor.Shapes.size(shape) != org.ntk4j.tensor.Shapes.size(referenceShape)) {
            throw new IllegalArgumentException(option + ": examples of shape " + org.ntk4j.tensor.Shapes.str(shape)
                    + " do not match " + reference + " " + org.ntk4j.tensor.Shapes.str(referenceShape));
        }
    }

    /**
     * Examples laid out as those they go with (kernel's --x2 as --data, predict's and train's --test as --train), a
     * new tensor, for a zoo model: flat rows of as many values as one laid-out example are that example, row-major
     * (a CSV beside images); examples of the same shape up to axes of size 1 ([28, 28] or [1, 28, 28] beside
     * [28, 28, 1]) hold their values in the same order and are reshaped too. Any other shape of as many values
     * ([3, 32, 32] beside [32, 32, 3], [4, 16] beside [8, 8, 1]) is refused naming {@code option}: reshaped, its
     * values would be read in another order, a silently wrong kernel or prediction.
     *
     * @param option the option of the examples, e.g. "--x2"
     * @param x the examples [N, ...], of as many values each as the others ({@link #requireExampleSize}); left open
     * @param exampleShape the others' laid-out example shape
     * @param reference what they go with, e.g. "the --data examples"
     * @return x [N, ...exampleShape], a new tensor the caller closes
     */
    static org.ntk4j.tensor.Tensor laidOutLike(String option, org.ntk4j.tensor.Tensor x, int[] exampleShape,
                                               String reference) {
        int[] have = org.ntk4j.tensor.Shapes.dropFirst(x.shape());
        if (have.length != 1 && !java.util.Arrays.equals(withoutUnitAxes(have), withoutUnitAxes(exampleShape))) {
            throw new IllegalArgumentException(option + ": examples of shape " + org.ntk4j.tensor.Shapes.str(have)
                    + " are not laid out as " + reference + " " + org.ntk4j.tensor.Shapes.str(exampleShape)
                    + " (read as those, their values would be in another order); give them in that shape, or as "
                    + "flat rows of " + org.ntk4j.tensor.Shapes.size(have) + " values in its row-major order");
        }
        return org.ntk4j.io.InputLayout.reshapeExamples(x, exampleShape);
    }

    /** {@code shape} without its axes of size 1: shapes equal after this hold the same values in the same order. */
    static int[] withoutUnitAxes(int[] shape) {
        return java.util.Arrays.stream(shape).filter(d -> d != 1).toArray();
    }

    /**
     * Refuses a --diag-reg that is negative, NaN or infinite before any work, naming the option (the library's own
     * check names its parameter, diag_reg, and comes after the kernels are computed).
     */
    static void requireDiagReg(double diagReg) {
        if (!(diagReg >= 0) || Double.isInfinite(diagReg)) {
            throw new IllegalArgumentException("--diag-reg: expected a finite number >= 0, got " + diagReg);
        }
    }

    /**
     * Fits the standardisation on {@code train}, warning on {@code err} when it leaves nothing but zeros (constant
     * inputs, or per-feature with every feature constant): the kernel of such inputs is that of all-zero inputs.
     */
    static org.ntk4j.io.Standardizer fitStandardizer(org.ntk4j.tensor.Tensor train,
            org.ntk4j.io.Standardizer.Mode mode, String source, java.io.PrintWriter err) {
        org.ntk4j.io.Standardizer std = org.ntk4j.io.Standardizer.fit(train, mode);
        if (std.allConstant()) {
            err.println("ntk4j: warning: " + source + " is constant" + (mode == org.ntk4j.io.Standardizer.Mode.GLOBAL
                    ? "" : " in every feature") + ", so --standardize " + mode.name().toLowerCase(Locale.ROOT)
                    .replace('_', '-') + " makes all its inputs 0");
            err.flush();
        }
        return std;
    }

    /** An axis list as given on the command line (neural-tangents' {@code trace_axes=()} is {@code none}). */
    static final class Axes {
        final int[] axes;

        Axes(int[] axes) {
            this.axes = axes;
        }
    }

    /** Parses an axis list: axis numbers separated by commas, or 'none' for the empty list. */
    static final class AxesConverter implements picocli.CommandLine.ITypeConverter<Axes> {
        @Override
        public Axes convert(String value) {
            if (value.trim().equalsIgnoreCase("none")) {
                return new Axes(new int[0]);
            }
            String[] parts = value.split(",", -1);
            int[] axes = new int[parts.length];
            for (int i = 0; i < parts.length; i++) {
                try {
                    axes[i] = Integer.parseInt(parts[i].trim());
                } catch (NumberFormatException e) {
                    throw new picocli.CommandLine.TypeConversionException("expected an axis number, got '" + parts[i]
                            + "' (axes are comma-separated numbers, negative from the end, or none)");
                }
            }
            return new Axes(axes);
        }
    }
}
