package org.ntk4j.nn;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The model zoo: networks built from spec strings such as {@code fcn(depth=3,width=512,out=10,act=relu)}.
 * Every model takes {@code param=ntk|standard}, {@code w_std} and {@code b_std} (b_std=0 removes the biases);
 * the zoo's defaults, σ_w = 1.5 and σ_b = 0.05, are those of neural-tangents' README example.
 */
public final class Zoo {
    /** The root layers {@link #parse} built, weakly held (identity: layers do not override equals). */
    private static final java.util.Set<Layer> BUILT = java.util.Collections.synchronizedSet(
            java.util.Collections.newSetFromMap(new java.util.WeakHashMap<>()));
    /** One zoo entry: its name, a one-line description, its options with defaults, and its builder. */
    public static final class Entry {
        private final String name;
        private final String description;
        private final String options;
        private final java.util.function.Function<ModelSpec, Layer> builder;
        private final int[] listedInput;

        Entry(String name, String description, String options, java.util.function.Function<ModelSpec, Layer> b) {
            this(name, description, options, b, null);
        }

        Entry(String name, String description, String options, java.util.function.Function<ModelSpec, Layer> b,
              int[] listedInput) {
            this.name = name;
            this.description = description;
            this.options = options;
            this.builder = b;
            this.listedInput = listedInput;
        }

        /**
         * The per-example input shape the model is made for (224×224×3 for the ImageNet ResNets), at which
         * {@code ./ntk4j models} counts its parameters; null for models that take any data's shape.
         *
         * @return a copy of the shape, or null
         */
        public int[] listedInput() {
            return listedInput == null ? null : listedInput.clone();
        }

        /**
         * The entry's name, as used in spec strings.
         *
         * @return the name, e.g. {@code fcn}
         */
        public String name() {
            return name;
        }

        /**
         * A one-line description of the architecture.
         *
         * @return the description
         */
        public String description() {
            return description;
        }

        /**
         * Options with their defaults, as {@code key=default, ...}.
         *
         * @return the options text
         */
        public String options() {
            return options;
        }
    }

    private static final String COMMON = "param=ntk, w_std=1.5, b_std=0.05";
    /**
     * The option that only act=leaky_relu takes, as the models with an act list it after their options (which list
     * defaults that parse as written: a slope with act=relu is refused).
     */
    private static final String SLOPE = "act=leaky_relu also takes slope=" + Activation.DEFAULT_LEAKY_RELU_ALPHA;
    private static final Map<String, Entry> ENTRIES = new LinkedHashMap<>();
    private static final String RESNET_OPTIONS = "out=1000, width=64, param=standard, w_std=1.41421356, b_std=0.05";
    private static final int[] IMAGENET = {224, 224, 3};

    static {
        add(new Entry("fcn", "fully connected: flatten, depth × (dense(width), act), dense(out); " + SLOPE,
                "depth=3, width=512, out=10, act=relu, " + COMMON, Zoo::fcn));
        add(new Entry("cnn", "convolutional: depth × (conv 3×3 SAME, act), global average pool (pool=gap) "
                + "or flatten (pool=flatten), dense(out); [H, W] inputs get one channel; " + SLOPE,
                "depth=3, channels=64, out=10, act=relu, filter=3, pool=gap, " + COMMON, Zoo::cnn));
        add(new Entry("resnet", "small wide-ResNet: conv 3×3 stem, blocks × residual(act, conv, act, conv), act, "
                + "global average pool, dense(out); " + SLOPE,
                "blocks=2, channels=16, out=10, act=relu, " + COMMON, Zoo::resnet));
        add(new Entry("transformer", "rows as tokens: dense(dim) embedding, layers × (pre-norm multi-head "
                + "self-attention and gelu MLP, each residual), layer norm, mean over tokens, dense(out)",
                "layers=2, dim=64, heads=4, out=10, " + COMMON, Zoo::transformer));
        for (int depth : new int[] {18, 34, 50}) {
            add(new Entry("resnet" + depth, "torchvision's resnet" + depth + " (" + (depth >= 50 ? "bottleneck"
                    : "basic") + " blocks, inference-mode batch norm, max pool), NHWC; width scales the channels",
                    RESNET_OPTIONS, s -> imagenetResnet(s, depth, 64), IMAGENET));
        }
        add(new Entry("wide_resnet50_2", "torchvision's wide_resnet50_2: resnet50 with bottlenecks twice as wide",
                RESNET_OPTIONS, s -> imagenetResnet(s, 50, 128), IMAGENET));
    }


    static Layer imagenetResnet(ModelSpec s, int depth, int widthPerGroup) {
        return ResNets.resnet(depth, s.integer("out", 1000, 1), s.integer("width", 64, 1), widthPerGroup,
                s.real("w_std", 1.41421356, 0), s.real("b_std", 0.05, 0),
                param(s, "standard"));
    }

    /** The option that sets each zoo model's width: its hidden features, channels or embedding dimension. */
    private static final Map<String, String> WIDTH_OPTION = Map.of("fcn", "width", "cnn", "channels", "resnet",
            "channels", "transformer", "dim", "resnet18", "width", "resnet34", "width", "resnet50", "width",
            "wide_resnet50_2", "width");

    private Zoo() {
    }

    /**
     * The option of a zoo model that sets its width ({@code width} for fcn and the ImageNet ResNets,
     * {@code channels} for cnn and resnet, {@code dim} for transformer).
     *
     * @param name a zoo model's name
     * @return the option's name, or null when {@code name} is not a zoo model
     */
    public static String widthOption(String name) {
        return WIDTH_OPTION.get(name.trim().toLowerCase(java.util.Locale.ROOT));
    }

    /**
     * The spec with its model's width option ({@link #widthOption}) set to {@code width}: replaced where the spec
     * has it, added where it does not ({@code fcn} becomes {@code fcn(width=64)}, {@code cnn(depth=2)} becomes
     * {@code cnn(depth=2,channels=64)}). What the width studies (approx, study, convergence) vary.
     *
     * @param spec a zoo model spec
     * @param width the width
     * @return the spec with that width
     * @throws IllegalArgumentException if the spec is malformed or names no zoo model with a width (e.g. a
     *     {@code linearize(...)})
     */
    public static String withWidth(String spec, int width) {
        String s = spec.trim();
        int open = s.indexOf('(');
        String key = widthOption(open < 0 ? s : s.substring(0, open));
        if (key == null) {
            throw new IllegalArgumentException("model '" + spec + "' has no width to vary; models with one are "
                    + String.join(", ", new java.util.TreeSet<>(WIDTH_OPTION.keySet())));
        }
        ModelSpec.parse(spec); // checks the syntax (a ')' at the end, key=value options) before it is edited
        List<String> options = new ArrayList<>();
        boolean replaced = false;
        if (open >= 0 && !s.substring(open + 1, s.length() - 1).isBlank()) {
            for (String option : s.substring(open + 1, s.length() - 1).split(",")) {
                boolean isWidth = option.substring(0, option.indexOf('=')).trim().equalsIgnoreCase(key);
                options.add(isWidth ? key + "=" + width : option.trim());
                replaced |= isWidth;
            }
        }
        if (!replaced) {
            options.add(key + "=" + width);
        }
        return (open < 0 ? s : s.substring(0, open).trim()) + "(" + String.join(",", options) + ")";
    }

    /**
     * The options of a zoo model as its refusal of an unknown option names them: {@link Entry#options()}, and for the
     * models with an act (fcn, cnn, resnet) the slope that act=leaky_relu also takes.
     *
     * @param name a zoo model's name
     * @return the options text
     * @throws IllegalArgumentException if {@code name} is not a zoo model
     */
    public static String knownOptions(String name) {
        Entry e = ENTRIES.get(name);
        if (e == null) {
            throw new IllegalArgumentException("unknown model '" + name + "'; models are "
                    + String.join(", ", ENTRIES.keySet()));
        }
        return e.options().contains("act=") ? e.options() + "; " + SLOPE : e.options();
    }

    /**
     * Whether the width of a zoo spec ({@link #withWidth}) changes the network at all: false when no layer has that
     * width ({@code fcn(depth=0)}, {@code cnn(depth=0)}: the input flattened or pooled, then the output layer), so
     * that every width gives the same parameters, the same functions and the same kernels. Compared as the
     * parameters' names and shapes at two widths, which the width sets wherever a layer has it.
     *
     * @param spec a zoo model spec with a width option
     * @param perExample the shape of one example the model takes
     * @param width a width the model takes
     * @param other another width it takes
     * @return true when the two widths give some parameter other names or shapes
     * @throws IllegalArgumentException as {@link #withWidth} and {@link #parse}, or if the model refuses the shape
     */
    public static boolean widthChangesModel(String spec, int[] perExample, int width, int other) {
        Model narrow = parse(withWidth(spec, width));
        Model wide = parse(withWidth(spec, other));
        try {
            List<ParamSpec> a = narrow.paramSpecs(perExample);
            List<ParamSpec> b = wide.paramSpecs(perExample);
            if (a.size() != b.size()) {
                return true;
            }
            for (int i = 0; i < a.size(); i++) {
                if (!a.get(i).path().equals(b.get(i).path())
                        || !java.util.Arrays.equals(a.get(i).shape(), b.get(i).shape())) {
                    return true;
                }
            }
            return false;
        } finally {
            narrow.releaseCaches();
            wide.releaseCaches();
        }
    }

    static void add(Entry e) {
        ENTRIES.put(e.name(), e);
    }

    /**
     * All entries, in listing order.
     *
     * @return a new list of the entries
     */
    public static List<Entry> entries() {
        return new ArrayList<>(ENTRIES.values());
    }

    /**
     * Builds the model named by a spec string, a zoo entry or a {@code linearize(...)}/{@code taylor2(...)} of
     * one; unknown names and options give one clear message.
     *
     * @param specText the spec string
     * @return the model, whose spec is the trimmed text
     * @throws IllegalArgumentException on a malformed spec, an unknown model or option, or a bad option value
     */
    public static Model parse(String specText) {
        Model expanded = parseExpansion(specText);
        if (expanded != null) {
            return expanded;
        }
        ModelSpec spec = ModelSpec.parse(specText);
        Entry e = ENTRIES.get(spec.name());
        if (e == null) {
            throw new IllegalArgumentException("unknown model '" + spec.name() + "'; models are "
                    + String.join(", ", ENTRIES.keySet()) + " (see ./ntk4j models)");
        }
        Layer root = e.builder.apply(spec);
        spec.rejectUnknown(knownOptions(e.name()));
        BUILT.add(root);
        return new Model(root, specText.trim());
    }

    /**
     * Whether {@code model}'s layers are those {@link #parse} built for its spec (a model it returned, or one derived
     * from it with the same root: {@link Model#withBuffersOf}). A model built in Java from {@link Layers} is not,
     * whatever its spec says: its spec is a description, which may read like a zoo spec ("fcn") without meaning
     * that network, so what reads a zoo model's structure from its spec (its closed infinite-width limit) asks here.
     *
     * @param model the model
     * @return true for the zoo's own model
     */
    public static boolean built(Model model) {
        return BUILT.contains(model.root());
    }

    /**
     * {@code linearize(SPEC)} / {@code taylor2(SPEC)}, optionally {@code linearize(SPEC, seed=S)}: the first- or
     * second-order Taylor expansion of the model SPEC around its initialisation at seed S (default 0); see
     * {@link Linearized}. Null for any other spec.
     */
    private static Model parseExpansion(String specText) {
        String t = specText.trim();
        int open = t.indexOf('(');
        if (open < 0) {
            return null;
        }
        String name = t.substring(0, open).trim().toLowerCase(java.util.Locale.ROOT);
        int degree = name.equals("linearize") ? 1 : name.equals("taylor2") ? 2 : 0;
        if (degree == 0) {
            return null;
        }
        if (!t.endsWith(")")) {
            throw new IllegalArgumentException("model spec '" + specText + "': missing ')' at the end");
        }
        String body = t.substring(open + 1, t.length() - 1).trim();
        long seed = 0;
        int depth = 0;
        int lastComma = -1;
        for (int i = 0; i < body.length(); i++) {
            char c = body.charAt(i);
            depth += c == '(' ? 1 : c == ')' ? -1 : 0;
            if (depth < 0) {
                throw new IllegalArgumentException("model spec '" + specText + "': unbalanced ')'");
            }
            if (c == ',' && depth == 0) {
                lastComma = i;
            }
        }
        if (depth != 0) {
            throw new IllegalArgumentException("model spec '" + specText + "': unbalanced '('");
        }
        String inner = body;
        if (lastComma >= 0) {
            String option = body.substring(lastComma + 1).trim();
            inner = body.substring(0, lastComma).trim();
            int eq = option.indexOf('=');
            if (eq < 0 || !option.substring(0, eq).trim().equalsIgnoreCase("seed")) {
                throw new IllegalArgumentException(name + ": expected " + name + "(MODEL) or " + name
                        + "(MODEL, seed=S), got option '" + option + "'");
            }
            try {
                seed = Long.parseLong(option.substring(eq + 1).trim());
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException(name + ": option seed must be an integer, got '"
                        + option.substring(eq + 1).trim() + "'");
            }
        }
        if (inner.isEmpty()) {
            throw new IllegalArgumentException(name + ": expected " + name + "(MODEL), e.g. " + name
                    + "(fcn(depth=2,width=64))");
        }
        Model base = parse(inner);
        return Linearized.aroundInit(base, degree, seed, t);
    }

    private static Parameterization param(ModelSpec s) {
        return param(s, "ntk");
    }

    /*
     * Word options (act, param, pool), like model names and option keys, are read without regard to case
     * (FCN(Act=ReLU) is fcn(act=relu)); an unknown word is refused as "MODEL: option KEY must be ..., got 'WORD'".
     */

    private static Parameterization param(ModelSpec s, String dflt) {
        String v = s.string("param", dflt);
        try {
            return Parameterization.parse(v);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(s.name() + ": option param must be ntk or standard, got '" + v + "'");
        }
    }

    /**
     * The activation of a zoo spec's options {@code act} (relu, leaky_relu, erf, tanh, sigmoid, gelu, softplus, sin,
     * identity, abs, exp, gaussian, cos, silu or swish, elu; default relu) and {@code slope}, leaky_relu's negative
     * slope α in [0, 1] (default {@link Activation#DEFAULT_LEAKY_RELU_ALPHA}; neural-tangents'
     * {@code LeakyRelu(alpha)}), checked whatever the depth. A slope given with another act is refused: it would be
     * silently ignored.
     *
     * @param s the spec of a zoo model with an activation (fcn, cnn, resnet)
     * @return the activation its hidden layers apply
     * @throws IllegalArgumentException for an unknown act, naming the ones there are, a slope outside [0, 1], or a
     *     slope with an act other than leaky_relu
     */
    public static Activation activation(ModelSpec s) {
        String v = s.string("act", "relu");
        Activation.Kind kind;
        try {
            kind = Activation.parse(v).function();
        } catch (IllegalArgumentException e) {
            List<String> names = new ArrayList<>();
            for (Activation.Kind k : Activation.Kind.values()) {
                names.add(k.name().toLowerCase(java.util.Locale.ROOT));
            }
            throw new IllegalArgumentException(s.name() + ": option act must be one of " + String.join(", ", names)
                    + ", got '" + v + "'");
        }
        String given = s.string("slope", null);
        if (given != null && kind != Activation.Kind.LEAKY_RELU) {
            throw new IllegalArgumentException(s.name() + ": option slope is the negative slope of act=leaky_relu, "
                    + "got slope=" + given.trim() + " with act=" + kind.name().toLowerCase(java.util.Locale.ROOT));
        }
        double slope = s.real("slope", Activation.DEFAULT_LEAKY_RELU_ALPHA, 0);
        if (slope > 1) {
            throw new IllegalArgumentException(s.name() + ": option slope must be in [0, 1] (max(x, slope·x) is a "
                    + "leaky ReLU only there), got " + given.trim());
        }
        return kind == Activation.Kind.LEAKY_RELU ? new Activation(kind, slope) : new Activation(kind);
    }

    private static Layer dense(ModelSpec s, int out) {
        return new Dense(out, s.real("w_std", 1.5, 0), s.real("b_std", 0.05, 0), param(s));
    }

    /**
     * Refuses options whose hidden layers alone (a lower bound on the parameters, whatever the input) cannot be held
     * by this JVM even in float32 ({@link Model#tensorMemoryRefusal}), before a layer is built: a depth of 10⁸
     * otherwise spent minutes building layers before running out of memory.
     */
    private static void requireRoom(ModelSpec s, String options, double parameters) {
        String refusal = Model.tensorMemoryRefusal(parameters, org.ntk4j.tensor.DType.F32);
        if (refusal != null) {
            throw new IllegalArgumentException(s.name() + ": " + options + ": " + refusal.replaceFirst("^its ",
                    "at least "));
        }
    }

    /**
     * The options of a zoo {@code fcn} spec, read with the zoo's defaults (depth 3, width 512, out 10, act relu,
     * param ntk, w_std 1.5, b_std 0.05) and checked: the one reading that {@link #parse} builds the network from and
     * that its infinite-width limit ({@code org.ntk4j.infinite.FcnLimit}) computes from.
     *
     * @param depth hidden layers
     * @param width hidden width
     * @param out logits
     * @param act the hidden activation
     * @param param the parameterization
     * @param wStd σ_w
     * @param bStd σ_b (0: no biases)
     */
    public record FcnOptions(int depth, int width, int out, Activation act, Parameterization param, double wStd,
                             double bStd) {
        /**
         * Reads the options of an fcn spec (unknown options are left to the caller).
         *
         * @param s the spec
         * @return its options
         * @throws IllegalArgumentException for an option out of range or not of its type, naming it
         */
        public static FcnOptions of(ModelSpec s) {
            return new FcnOptions(s.integer("depth", 3, 0), s.integer("width", 512, 1), s.integer("out", 10, 1),
                    activation(s), Zoo.param(s), s.real("w_std", 1.5, 0), s.real("b_std", 0.05, 0));
        }

        private Layer dense(int features) {
            return new Dense(features, wStd, bStd, param);
        }
    }

    /**
     * The options of a zoo {@code cnn} spec, read with the zoo's defaults (depth 3, channels 64, out 10, act relu,
     * filter 3, pool gap, param ntk, w_std 1.5, b_std 0.05) and checked: the one reading that {@link #parse} builds
     * the network from and that its infinite-width limit ({@code org.ntk4j.infinite.CnnLimit}) computes from.
     *
     * @param depth convolutions
     * @param channels channels of each convolution
     * @param out logits
     * @param act the activation after each convolution
     * @param filter the side of the square filters
     * @param gap whether the readout pools globally ({@code pool=gap}) rather than flattens ({@code pool=flatten})
     * @param param the parameterization
     * @param wStd σ_w
     * @param bStd σ_b (0: no biases)
     */
    public record CnnOptions(int depth, int channels, int out, Activation act, int filter, boolean gap,
                             Parameterization param, double wStd, double bStd) {
        /**
         * Reads the options of a cnn spec (unknown options are left to the caller).
         *
         * @param s the spec
         * @return its options
         * @throws IllegalArgumentException for an option out of range or not of its type, or a pool other than gap
         *     or flatten, naming it
         */
        public static CnnOptions of(ModelSpec s) {
            int depth = s.integer("depth", 3, 0);
            int channels = s.integer("channels", 64, 1);
            int out = s.integer("out", 10, 1);
            Activation act = activation(s);
            int filter = s.integer("filter", 3, 1);
            String pool = s.string("pool", "gap");
            String lower = pool.toLowerCase(java.util.Locale.ROOT);
            if (!lower.equals("gap") && !lower.equals("flatten")) {
                throw new IllegalArgumentException("cnn: option pool must be gap or flatten, got '" + pool + "'");
            }
            return new CnnOptions(depth, channels, out, act, filter, lower.equals("gap"), Zoo.param(s),
                    s.real("w_std", 1.5, 0), s.real("b_std", 0.05, 0));
        }

        private Layer conv() {
            return new Conv(channels, new int[] {filter, filter}, new int[] {1, 1}, "SAME", wStd, bStd, param);
        }
    }

    /**
     * The options of a zoo {@code resnet} spec, read with the zoo's defaults (blocks 2, channels 16, out 10, act relu,
     * param ntk, w_std 1.5, b_std 0.05) and checked: the one reading that {@link #parse} builds the network from and
     * that its infinite-width limit ({@code org.ntk4j.infinite.ResNetLimit}) computes from.
     *
     * @param blocks residual blocks
     * @param channels channels of the stem and the blocks
     * @param out logits
     * @param act the activation
     * @param param the parameterization
     * @param wStd σ_w
     * @param bStd σ_b (0: no biases)
     */
    public record ResNetOptions(int blocks, int channels, int out, Activation act, Parameterization param,
                                double wStd, double bStd) {
        /**
         * Reads the options of a resnet spec (unknown options are left to the caller).
         *
         * @param s the spec
         * @return its options
         * @throws IllegalArgumentException for an option out of range or not of its type, naming it
         */
        public static ResNetOptions of(ModelSpec s) {
            return new ResNetOptions(s.integer("blocks", 2, 0), s.integer("channels", 16, 1),
                    s.integer("out", 10, 1), activation(s), Zoo.param(s), s.real("w_std", 1.5, 0),
                    s.real("b_std", 0.05, 0));
        }

        private Layer conv() {
            return new Conv(channels, new int[] {3, 3}, new int[] {1, 1}, "SAME", wStd, bStd, param);
        }
    }

    static Layer fcn(ModelSpec s) {
        FcnOptions o = FcnOptions.of(s);
        int depth = o.depth();
        int width = o.width();
        // dense(width) after dense(width): width² weights for each layer after the first, and width · out to finish
        requireRoom(s, "depth=" + depth + " and width=" + width, Math.max(0, depth - 1) * (double) width * width
                + (depth > 0 ? (double) width * o.out() : 0));
        List<Layer> layers = new ArrayList<>();
        layers.add(new Flatten());
        for (int i = 0; i < depth; i++) {
            layers.add(o.dense(width));
            layers.add(o.act());
        }
        layers.add(o.dense(o.out()));
        return new Serial(layers);
    }

    static Layer cnn(ModelSpec s) {
        CnnOptions o = CnnOptions.of(s);
        int channels = o.channels();
        int filter = o.filter();
        requireRoom(s, "depth=" + o.depth() + ", channels=" + channels + " and filter=" + filter,
                Math.max(0, o.depth() - 1) * (double) filter * filter * channels * channels);
        List<Layer> layers = new ArrayList<>();
        layers.add(new ToImage());
        for (int i = 0; i < o.depth(); i++) {
            layers.add(o.conv());
            layers.add(o.act());
        }
        layers.add(o.gap() ? new GlobalAvgPool() : new Flatten());
        layers.add(new Dense(o.out(), o.wStd(), o.bStd(), o.param()));
        return new Serial(layers);
    }

    static Layer resnet(ModelSpec s) {
        ResNetOptions o = ResNetOptions.of(s);
        int channels = o.channels();
        requireRoom(s, "blocks=" + o.blocks() + " and channels=" + channels,
                2.0 * 9 * o.blocks() * channels * channels);
        Activation act = o.act();
        List<Layer> layers = new ArrayList<>();
        layers.add(new ToImage());
        layers.add(o.conv());
        for (int i = 0; i < o.blocks(); i++) {
            layers.add(Layers.residual(act, o.conv(), act, o.conv()));
        }
        layers.add(act);
        layers.add(new GlobalAvgPool());
        layers.add(new Dense(o.out(), o.wStd(), o.bStd(), o.param()));
        return new Serial(layers);
    }

    static Layer transformer(ModelSpec s) {
        int depth = s.integer("layers", 2, 0);
        int dim = s.integer("dim", 64, 1);
        int heads = s.integer("heads", 4, 1);
        int out = s.integer("out", 10, 1);
        if (dim % heads != 0) {
            throw new IllegalArgumentException("transformer: dim=" + dim + " is not divisible by heads=" + heads);
        }
        // the MLP of each layer alone: two dense(dim) on dim features
        requireRoom(s, "layers=" + depth + " and dim=" + dim, 2.0 * depth * dim * dim);
        double wStd = s.real("w_std", 1.5, 0);
        Parameterization p = param(s);
        List<Layer> layers = new ArrayList<>();
        layers.add(new ToSequence());
        layers.add(dense(s, dim));
        for (int i = 0; i < depth; i++) {
            layers.add(Layers.residual(new LayerNorm(1e-5), new GlobalSelfAttention(heads, wStd, p)));
            layers.add(Layers.residual(new LayerNorm(1e-5), dense(s, dim), Layers.gelu(), dense(s, dim)));
        }
        layers.add(new LayerNorm(1e-5));
        layers.add(new GlobalAvgPool());
        layers.add(dense(s, out));
        return new Serial(layers);
    }
}
