package org.ntk4j.onnx;

import static org.ntk4j.onnx.Tracer.MIXED;
import static org.ntk4j.onnx.Tracer.NONE;

import java.util.List;
import java.util.function.UnaryOperator;
import org.ntk4j.graph.Var;
import org.ntk4j.onnx.Tracer.Const;
import org.ntk4j.onnx.Tracer.Ctx;
import org.ntk4j.onnx.Tracer.Traced;
import org.ntk4j.onnx.Tracer.Value;
import org.ntk4j.onnx.proto.OnnxProtos.AttributeProto;

/**
 * ONNX RNN, GRU and LSTM (what {@code nn.RNN}, {@code nn.GRU} and {@code nn.LSTM} export to, one node per layer),
 * unrolled over the sequence, whose length the import knows: each step is products, sums and activations of existing
 * primitives, so every kernel method has their rules. The sequence is held batch-first, {@code [N, T, ...]}, as the
 * values the exporter's transposes give back; at layout 0 (PyTorch's) the outputs are views of it in the file's
 * layout: Y {@code [T, dirs, N, H]}, Y_h and Y_c {@code [dirs, N, H]}; at layout 1 (opset 14 on) X, the initial
 * states and the outputs are batch-first and held as they are. Every activation of the specification (Sigmoid,
 * Tanh, Relu, Affine, LeakyRelu, ThresholdedRelu, ScaledTanh, HardSigmoid, Elu, Softsign, Softplus) in any slot, with
 * {@code activation_alpha} and {@code activation_beta}; {@code hidden_size} or, absent, W's; {@code clip} (applied
 * to every gate's input before its activation; as onnxruntime, not to the LSTM's cell state before h); no
 * peepholes, no {@code input_forget}, no sequence_lens shorter than the sequence: those are refused in one line
 * naming the attribute.
 */
final class Recurrent {
    private Recurrent() {
    }

    /**
     * RNN ({@code nn.RNN}, nonlinearity tanh or relu): {@code h' = f(x Wᵀ + h Rᵀ + Wb + Rb)}, f Tanh unless
     * {@code activations} says otherwise.
     */
    static Value[] rnn(Ctx c) {
        return run(c, 1);
    }

    /**
     * GRU, gates z, r, h in W, R and B: {@code z = f(x Wzᵀ + h Rzᵀ + Wbz + Rbz)}, r likewise, {@code n = g(x
     * Whᵀ + r ⊙ (h Rhᵀ + Rbh) + Wbh)} for linear_before_reset = 1 (PyTorch's) or {@code g(x Whᵀ + (r ⊙ h) Rhᵀ +
     * Rbh + Wbh)} for 0, {@code h' = (1 − z) ⊙ n + z ⊙ h}; f sigmoid and g tanh by default.
     */
    static Value[] gru(Ctx c) {
        return run(c, 3);
    }

    /**
     * LSTM, gates i, o, f, c in W, R and B: {@code i = f(x Wiᵀ + h Riᵀ + Wbi + Rbi)}, o and f likewise, {@code c̃
     * = g(...)}, {@code C' = f ⊙ C + i ⊙ c̃}, {@code h' = o ⊙ h(C')}; f sigmoid, g and h tanh by default.
     */
    static Value[] lstm(Ctx c) {
        return run(c, 4);
    }

    private static Value[] run(Ctx c, int gates) {
        String op = c.op();
        boolean lstm = gates == 4;
        String direction = c.attrString("direction", "forward");
        int dirs = switch (direction) {
            case "forward", "reverse" -> 1;
            case "bidirectional" -> 2;
            default -> throw c.error("direction must be forward, reverse or bidirectional, got '" + direction + "'");
        };
        checkAttributes(c, lstm);
        long layoutAttr = c.attrInt("layout", 0);
        if (layoutAttr != 0 && layoutAttr != 1) {
            throw c.error("layout must be 0 ([seq_length, batch, ...]) or 1 ([batch, seq_length, ...]), got "
                    + layoutAttr);
        }
        boolean batchFirst = layoutAttr == 1;
        List<List<UnaryOperator<Var>>> act = activations(c, gates, dirs);
        UnaryOperator<Var> clip = clip(c);
        Traced x = c.traced(0);
        if (x.rank() != 3) {
            throw c.error(op + " takes X [" + (batchFirst ? "batch, seq_length" : "seq_length, batch")
                    + ", input_size], got " + Tracer.shapeText(x));
        }
        int steps = x.shape()[batchFirst ? 1 : 0];
        int n = x.shape()[batchFirst ? 0 : 1];
        int in = x.shape()[2];
        Traced w = c.traced(1);
        Traced r = c.traced(2);
        int h = hiddenSize(c, gates, w);
        if (h < 1 || !java.util.Arrays.equals(w.shape(), new int[] {dirs, gates * h, in})
                || !java.util.Arrays.equals(r.shape(), new int[] {dirs, gates * h, h})) {
            String g = gates == 1 ? "" : gates + "·";
            String from = c.attr("hidden_size") == null ? " (from W; the attribute is absent)" : "";
            throw c.error(op + " with hidden_size " + h + from + " and direction " + direction + " takes W [" + dirs
                    + ", " + g + "hidden_size, " + in + "] and R [" + dirs + ", " + g + "hidden_size, hidden_size], "
                    + "got " + Tracer.shapeText(w) + " and " + Tracer.shapeText(r));
        }
        Traced b = c.has(3) ? c.traced(3) : null;
        if (b != null && !java.util.Arrays.equals(b.shape(), new int[] {dirs, 2 * gates * h})) {
            throw c.error("B must have shape [" + dirs + ", " + 2 * gates * h + "], got " + Tracer.shapeText(b));
        }
        if (c.has(4)) {
            for (double len : c.constant(4, "sequence_lens").values()) {
                if (len != steps) {
                    throw c.unsupported("sequence_lens other than the sequence length " + steps + " (packed "
                            + "sequences of several lengths)");
                }
            }
        }
        if (lstm && c.has(7)) {
            throw c.unsupported("peepholes (input P)");
        }
        boolean linearBeforeReset = c.attrInt("linear_before_reset", 0) != 0;
        // the sequence batch-first: the exporter's Transpose of a batch-first input is a view of it
        Var xs = batchFirst ? x.var() : swapFirstTwo(x);
        Var[] initialH = initial(c, 5, dirs, n, h, batchFirst);
        Var[] initialC = lstm ? initial(c, 6, dirs, n, h, batchFirst) : null;
        // hs[t][d], h of direction d after the step at position t: [N, H]
        Var[][] hs = new Var[steps][dirs];
        Var[] lastH = new Var[dirs];
        Var[] lastC = new Var[dirs];
        for (int d = 0; d < dirs; d++) {
            Var wd = w.var().sliceInDim(0, d, d + 1, 1).reshape(gates * h, in);
            Var rd = r.var().sliceInDim(0, d, d + 1, 1).reshape(gates * h, h);
            Var bd = b == null ? null : b.var().sliceInDim(0, d, d + 1, 1).reshape(2 * gates * h);
            Var wb = bd == null ? null : bd.sliceInDim(0, 0, gates * h, 1);
            Var rb = bd == null ? null : bd.sliceInDim(0, gates * h, 2 * gates * h, 1);
            UnaryOperator<Var> f = act.get(d).get(0);
            UnaryOperator<Var> g = gates == 1 ? null : act.get(d).get(1);
            UnaryOperator<Var> hAct = lstm ? act.get(d).get(2) : null;
            // the input's projections for every step at once: [N, T, G·H]
            Var xw = xs.dotGeneral(wd, new int[] {2}, new int[] {1}, new int[0], new int[0]);
            boolean reverse = direction.equals("reverse") || d == 1;
            Var hp = initialH[d];
            Var cp = lstm ? initialC[d] : null;
            for (int k = 0; k < steps; k++) {
                int t = reverse ? steps - 1 - k : k;
                Var gx = xw.sliceInDim(1, t, t + 1, 1).reshape(n, gates * h);
                if (wb != null) {
                    gx = gx.add(wb);
                }
                if (gates != 3) {
                    Var pre = gx;
                    if (hp != null) {
                        pre = pre.add(hp.dotGeneral(rd, new int[] {1}, new int[] {1}, new int[0], new int[0]));
                    }
                    if (rb != null) {
                        pre = pre.add(rb);
                    }
                    if (!lstm) {
                        hp = f.apply(clip.apply(pre));
                    } else {
                        Var i = f.apply(clip.apply(gate(pre, 0, h)));
                        Var o = f.apply(clip.apply(gate(pre, 1, h)));
                        Var fg = f.apply(clip.apply(gate(pre, 2, h)));
                        Var cc = g.apply(clip.apply(gate(pre, 3, h)));
                        Var cn = cp == null ? i.mul(cc) : fg.mul(cp).add(i.mul(cc));
                        hp = o.mul(hAct.apply(cn));
                        cp = cn;
                    }
                } else {
                    Var rz = gx.sliceInDim(1, 0, 2 * h, 1);
                    Var hr = null;
                    if (hp != null) {
                        hr = hp.dotGeneral(rd, new int[] {1}, new int[] {1}, new int[0], new int[0]);
                    }
                    if (rb != null) {
                        // [G·H] alone at the first step from a zero state, broadcast in the sums below
                        hr = hr == null ? rb : hr.add(rb);
                    }
                    // hr = h Rᵀ + Rb (zero without either)
                    Var zr = hr == null ? rz : rz.add(lastAxis(hr, 0, 2 * h));
                    Var z = f.apply(clip.apply(gate(zr, 0, h)));
                    Var reset = f.apply(clip.apply(gate(zr, 1, h)));
                    Var cand = gate(gx, 2, h);
                    if (linearBeforeReset) {
                        if (hr != null) {
                            cand = cand.add(reset.mul(lastAxis(hr, 2 * h, 3 * h)));
                        }
                    } else {
                        if (hp != null) {
                            Var rh = rd.sliceInDim(0, 2 * h, 3 * h, 1);
                            cand = cand.add(reset.mul(hp).dotGeneral(rh, new int[] {1}, new int[] {1}, new int[0],
                                    new int[0]));
                        }
                        if (rb != null) {
                            cand = cand.add(rb.sliceInDim(0, 2 * h, 3 * h, 1));
                        }
                    }
                    Var nn = g.apply(clip.apply(cand));
                    // (1 − z) ⊙ n + z ⊙ h = n + z ⊙ (h − n)
                    hp = hp == null ? nn.sub(z.mul(nn)) : nn.add(z.mul(hp.sub(nn)));
                }
                hs[t][d] = hp;
            }
            lastH[d] = hp;
            lastC[d] = cp;
        }
        // Y held [N, T, dirs, H]: at layout 0 the file's [T, dirs, N, H] a view of it; Y_h and Y_c held [N, dirs, H]
        Var[] perStep = new Var[steps];
        for (int t = 0; t < steps; t++) {
            Var[] ds = new Var[dirs];
            for (int d = 0; d < dirs; d++) {
                ds[d] = hs[t][d].reshape(n, 1, 1, h);
            }
            perStep[t] = Var.concatenate(2, ds);
        }
        int xBatch = batchFirst ? 0 : 1;
        int batch = x.batch == xBatch ? 0 : x.batch == NONE ? NONE : MIXED;
        if (w.batch != NONE || r.batch != NONE || b != null && b.batch != NONE) {
            batch = MIXED;
        }
        // an initial state computed from the examples ([dirs, N, H], its axis 1 theirs: a state read from x, a
        // learned h0 expanded to the batch) keeps them apart; one that mixes them (a mean over the batch added)
        // makes every output mix them too
        for (int i = 5; i <= (lstm ? 6 : 5); i++) {
            if (c.has(i) && c.in(i) instanceof Traced t && t.batch != NONE) {
                batch = t.batch == xBatch && batch != MIXED ? 0 : MIXED;
            }
        }
        Var held = Var.concatenate(1, perStep);
        Traced y = batchFirst ? new Traced(held, batch)
                : new Traced(held, new int[] {1, 2, 0, 3}, batch == 0 ? 2 : batch);
        Value[] out = new Value[c.node.getOutputCount()];
        out[0] = y;
        if (out.length > 1) {
            out[1] = last(lastH, n, h, batch, batchFirst);
        }
        if (out.length > 2) {
            out[2] = last(lastC, n, h, batch, batchFirst);
        }
        return out;
    }

    /**
     * {@code v} [A, B, C] as [B, A, C], read from the value as held: a view whose axes are held in that order (the
     * exporter's Transpose of a batch-first input; a stacked layer's input, the previous layer's Y transposed and
     * reshaped to [T, N, dirs·H], held [N, T, dirs, H]) is a reshape of what is held, moving no data; otherwise one
     * transpose. Through {@link Traced#var()} such a value would be copied into the file's sequence-first layout
     * first, a value without the examples first.
     */
    private static Var swapFirstTwo(Traced v) {
        int[] s = v.shape();
        if (!v.isView()) {
            return v.phys.transpose(1, 0, 2);
        }
        // the held axes of logical axes 1, 0, 2 in that order
        int[] order = new int[v.phys.rank()];
        int k = 0;
        for (int g : new int[] {1, 0, 2}) {
            for (int j = 0; j < v.groupSize(g); j++) {
                order[k++] = v.physAxis(v.groupStart(g) + j);
            }
        }
        boolean held = true;
        for (int i = 0; i < order.length; i++) {
            held &= order[i] == i;
        }
        return (held ? v.phys : v.phys.transpose(order)).reshape(s[1], s[0], s[2]);
    }

    /** [dirs, N, H] (layout 0) held as [N, dirs, H]; [N, dirs, H] (layout 1) as it is. */
    private static Traced last(Var[] perDirection, int n, int h, int batch, boolean batchFirst) {
        Var[] ds = new Var[perDirection.length];
        for (int d = 0; d < ds.length; d++) {
            ds[d] = perDirection[d].reshape(n, 1, h);
        }
        Var held = Var.concatenate(1, ds);
        return batchFirst ? new Traced(held, batch) : new Traced(held, new int[] {1, 0, 2}, batch == 0 ? 1 : batch);
    }

    /** Columns {@code from} to {@code to} of the last axis of {@code v} ([N, G·H] or [G·H]). */
    private static Var lastAxis(Var v, int from, int to) {
        return v.sliceInDim(v.rank() - 1, from, to, 1);
    }

    /** Gate j of {@code g} [N, G·H]: its columns j·H to (j + 1)·H. */
    private static Var gate(Var g, int j, int h) {
        return g.sliceInDim(1, j * h, (j + 1) * h, 1);
    }

    /**
     * The initial state of each direction, [N, H], from input i ([dirs, N, H]; [N, dirs, H] at layout 1); null for
     * zeros (the input absent, or known at import to be zero: PyTorch's ConstantOfShape of zeros).
     */
    private static Var[] initial(Ctx c, int i, int dirs, int n, int h, boolean batchFirst) {
        Var[] r = new Var[dirs];
        if (!c.has(i)) {
            return r;
        }
        Value v = c.in(i);
        int[] want = batchFirst ? new int[] {n, dirs, h} : new int[] {dirs, n, h};
        if (!java.util.Arrays.equals(v.shape(), want)) {
            throw c.error("input " + i + " (initial state) must have shape " + java.util.Arrays.toString(want)
                    + ", got " + Tracer.shapeText(v));
        }
        if (v instanceof Const k && !k.weightCandidate() && java.util.Arrays.stream(k.values()).allMatch(a -> a == 0)) {
            return r;
        }
        Var held = batchFirst ? c.traced(i).var() : swapFirstTwo(c.traced(i));
        for (int d = 0; d < dirs; d++) {
            r[d] = held.sliceInDim(1, d, d + 1, 1).reshape(n, h);
        }
        return r;
    }

    /**
     * The activations of each direction, {@code dirs} lists of {@code slots} (1 for RNN, 2 for GRU, 3 for LSTM):
     * the attribute lists one set a direction, forward first (the specification's and onnxruntime's rule: a
     * bidirectional node of one set is refused, not guessed); absent, the specification's defaults. One exception,
     * onnxruntime's: an RNN of one direction may list two, the form of the schema's default ["Tanh", "Tanh"], and
     * runs the first, as onnxruntime does (the file runs there; a tool that writes the default out is not refused).
     * {@code activation_alpha} and {@code activation_beta} are consumed in the order of the listed functions (every
     * one listed, as onnxruntime's GRU and LSTM read them), each function taking what it uses (see {@link
     * #activation}); the second of such a pair takes its values too, but one it would take from a default is not
     * refused: it never runs.
     */
    private static List<List<UnaryOperator<Var>>> activations(Ctx c, int gates, int dirs) {
        List<String> dflt = switch (gates) {
            case 1 -> List.of("Tanh");
            case 3 -> List.of("Sigmoid", "Tanh");
            default -> List.of("Sigmoid", "Tanh", "Tanh");
        };
        AttributeProto attr = c.attr("activations");
        List<String> names = attr == null ? dflt : attr.getStringsList().stream()
                .map(com.google.protobuf.ByteString::toStringUtf8).toList();
        int slots = dflt.size();
        boolean firstOfTwo = gates == 1 && dirs == 1 && names.size() == 2;
        if (attr != null && names.size() != slots * dirs && !firstOfTwo) {
            throw c.error("activations must list " + slots * dirs + (slots * dirs == 1 ? " function (" : " functions (")
                    + slots + " a direction), got " + names);
        }
        Coefficients alpha = new Coefficients(c, "activation_alpha");
        Coefficients beta = new Coefficients(c, "activation_beta");
        List<UnaryOperator<Var>> listed = new java.util.ArrayList<>();
        for (int k = 0; k < names.size(); k++) {
            // an RNN's defaults are the specification's, but not onnxruntime's RNN kernel's (see activation); the
            // second of firstOfTwo never runs
            boolean runs = !(firstOfTwo && k == 1);
            listed.add(activation(c, names.get(k), names, alpha, beta, runs, runs && gates == 1));
        }
        alpha.checkAllTaken(names);
        beta.checkAllTaken(names);
        List<List<UnaryOperator<Var>>> r = new java.util.ArrayList<>();
        for (int d = 0; d < dirs; d++) {
            // without the attribute, each direction has the defaults
            int from = attr == null ? 0 : d * slots;
            r.add(listed.subList(from, from + slots));
        }
        return r;
    }

    /**
     * One listed activation, as the specification defines it (onnxruntime's formulas: LeakyRelu and Elu x for x ≥ 0,
     * ThresholdedRelu x for x &gt; alpha, 0 at alpha as the ThresholdedRelu operator and onnxruntime, where the
     * specification's RNN text writes x ≥ alpha), the name read without regard to case (onnxruntime's GRU and LSTM
     * rule), built of the primitives the standalone operators of the same name use, with their derivatives at the
     * kinks: Relu, LeakyRelu (α at 0) and Elu (α at 0) as PyTorch's, HardSigmoid 0 at its breakpoints,
     * ThresholdedRelu 0 at α (a mask, without derivative, times x). Alpha and beta come from the lists in order;
     * where a list runs out, the default of the operator of the same name (LeakyRelu 0.01, HardSigmoid 0.2 and 0.5,
     * Elu 1), which onnxruntime's GRU and LSTM kernels take too. Where the two disagree, a file that leaves the value
     * out is refused rather than computed one way or the other: Affine, ScaledTanh and ThresholdedRelu, whose
     * defaults by the specification's rule are the operators' (1 and 0, 1 and 1, 1) and in onnxruntime's RNN, GRU and
     * LSTM kernels 0 (Affine and ScaledTanh then the constant 0, ThresholdedRelu a Relu); and, with {@code
     * rnnKernel}, every value of an RNN node's function: onnxruntime's RNN kernel (unlike its GRU and LSTM) reads
     * alpha and beta one per direction and takes 0 for a missing list, so a LeakyRelu without alpha is there a Relu,
     * an Elu a Relu, a HardSigmoid the constant 0. (Values given mean the same in its reading and in the
     * specification's order, except where the forward function takes none and the reverse one does: the kernel then
     * reads past the list's end; the specification's order is followed.) A function that never {@code runs} is not
     * refused for a default.
     */
    private static UnaryOperator<Var> activation(Ctx c, String name, List<String> names, Coefficients alpha,
            Coefficients beta, boolean runs, boolean rnnKernel) {
        // whether the operator's default may stand in for a missing LeakyRelu, Elu or HardSigmoid value:
        // onnxruntime's GRU and LSTM take it too (its RNN kernel 0), or the function never runs
        boolean agreed = !runs || !rnnKernel;
        return switch (name.toLowerCase(java.util.Locale.ROOT)) {
            case "sigmoid" -> Var::sigmoid;
            case "tanh" -> Var::tanh;
            case "relu" -> Var::relu;
            case "softplus" -> Var::softplus;
            case "softsign" -> Operators::softsign;
            case "leakyrelu" -> {
                double a = alpha.next(name, names, 0.01f, agreed);
                yield v -> Operators.leakyRelu(v, a);
            }
            case "elu" -> {
                double a = alpha.next(name, names, 1f, agreed);
                yield v -> Operators.elu(v, a);
            }
            case "hardsigmoid" -> {
                double a = alpha.next(name, names, 0.2f, agreed);
                double b = beta.next(name, names, 0.5f, agreed);
                yield v -> Operators.hardSigmoid(v, a, b);
            }
            case "thresholdedrelu" -> {
                double a = alpha.next(name, names, 1f, !runs);
                yield v -> Operators.thresholdedRelu(v, a);
            }
            case "affine" -> {
                double a = alpha.next(name, names, 1f, !runs);
                double b = beta.next(name, names, 0f, !runs);
                yield v -> v.mul(a).add(b);
            }
            case "scaledtanh" -> {
                double a = alpha.next(name, names, 1f, !runs);
                double b = beta.next(name, names, 1f, !runs);
                yield v -> v.mul(b).tanh().mul(a);
            }
            default -> throw c.unsupported("activations=" + names + " (only Affine, Elu, HardSigmoid, LeakyRelu, "
                    + "Relu, ScaledTanh, Sigmoid, Softplus, Softsign, Tanh and ThresholdedRelu)");
        };
    }

    /** One of {@code activation_alpha} and {@code activation_beta}: its values, read in order. */
    private static final class Coefficients {
        private final Ctx c;
        private final String attribute;
        private final List<Float> values;
        private final List<String> takers = new java.util.ArrayList<>();

        Coefficients(Ctx c, String attribute) {
            this.c = c;
            this.attribute = attribute;
            AttributeProto a = c.attr(attribute);
            this.values = a == null ? List.of() : a.getFloatsList();
        }

        /**
         * The next value for the activation {@code name}, or where the list has run out {@code specDefault} (the
         * operator's, the specification's rule) if {@code agreed} (onnxruntime's kernel takes the same, or the
         * function never runs), else a refusal: the two differ, and the file must give the value.
         */
        double next(String name, List<String> names, float specDefault, boolean agreed) {
            takers.add(name);
            if (takers.size() > values.size()) {
                if (!agreed) {
                    throw c.error(attribute + " lists " + count(values.size()) + ", and activations=" + names
                            + " take at least " + takers.size() + " (in order: " + String.join(", ", takers) + "); "
                            + name + "'s " + what() + " has no default that the specification (the " + name
                            + " operator's, " + specDefault + ") and onnxruntime's " + c.op() + " kernel (0) agree "
                            + "on: give it in the file");
                }
                return specDefault;
            }
            float v = values.get(takers.size() - 1);
            if (!Float.isFinite(v)) {
                throw c.error(attribute + "[" + (takers.size() - 1) + "] (" + name + "'s " + what() + ") must be "
                        + "finite, got " + v);
            }
            return v;
        }

        private String what() {
            return attribute.substring("activation_".length());
        }

        private static String count(int n) {
            return n + (n == 1 ? " value" : " values");
        }

        /** Refuses values no activation takes: which function they were meant for is unclear. */
        void checkAllTaken(List<String> names) {
            if (values.size() > takers.size()) {
                throw c.error(attribute + " lists " + count(values.size()) + ", but activations=" + names + " take "
                        + (takers.isEmpty() ? "none of them" : takers.size() + " (in order: "
                        + String.join(", ", takers) + "); the rest are for no function"));
            }
        }
    }

    /**
     * {@code hidden_size}, or where the attribute is absent (the specification makes it optional) W's axis 1 over
     * the number of gates, W [dirs, gates·hidden_size, input_size]: the caller then checks W and R against it, so
     * that an R that disagrees is refused as for a hidden_size given.
     */
    private static int hiddenSize(Ctx c, int gates, Traced w) {
        if (c.attr("hidden_size") != null) {
            return Math.toIntExact(c.attrInt("hidden_size", -1));
        }
        if (w.rank() != 3 || w.shape()[1] % gates != 0 || w.shape()[1] == 0) {
            throw c.error(c.op() + " without hidden_size takes it from W [num_directions, " + (gates == 1 ? ""
                    : gates + "·") + "hidden_size, input_size], got " + Tracer.shapeText(w));
        }
        return w.shape()[1] / gates;
    }

    /**
     * {@code clip}: every gate's input clamped to [−clip, clip] before its activation (the derivative 1 at the bounds,
     * as torch.clamp's); absent, the identity. The specification says "the input of activations"; onnxruntime, the
     * reference runtime, clips the gates only, not the LSTM's cell state before h, and so does this import.
     */
    private static UnaryOperator<Var> clip(Ctx c) {
        if (c.attr("clip") == null) {
            return v -> v;
        }
        double clip = c.attrFloat("clip", 0f);
        if (!(clip > 0) || Double.isInfinite(clip)) {
            throw c.error("clip must be a positive finite threshold, got " + clip);
        }
        return v -> Operators.clamp(v, -clip, clip, true);
    }

    private static void checkAttributes(Ctx c, boolean lstm) {
        if (lstm && c.attrInt("input_forget", 0) != 0) {
            throw c.unsupported("input_forget=1 (only 0)");
        }
    }
}
