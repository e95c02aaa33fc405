package org.ntk4j.onnx;

import static org.ntk4j.onnx.Tracer.MIXED;
import static org.ntk4j.onnx.Tracer.NONE;

import java.util.List;
import org.ntk4j.graph.Var;
import org.ntk4j.onnx.Tracer.Const;
import org.ntk4j.onnx.Tracer.Ctx;
import org.ntk4j.onnx.Tracer.Traced;
import org.ntk4j.onnx.Tracer.Value;
import org.ntk4j.onnx.proto.OnnxProtos.AttributeProto;

/**
 * ONNX GRU and LSTM (what {@code nn.GRU} and {@code nn.LSTM} export to, one node per layer), unrolled over the
 * sequence, whose length the import knows: each step is products, sums, sigmoids and tanhs of existing primitives,
 * so every kernel method has their rules. The sequence is held batch-first, {@code [N, T, ...]}, as the values the
 * exporter's transposes give back; the outputs are views of it in the file's layout: Y {@code [T, dirs, N, H]},
 * Y_h and Y_c {@code [dirs, N, H]} (layout 0). The default activations only (sigmoid, tanh), no clip, no
 * peepholes, no sequence_lens shorter than the sequence, layout 0: what PyTorch writes; the rest is refused in one
 * line naming the attribute.
 */
final class Recurrent {
    private Recurrent() {
    }

    /**
     * GRU, gates z, r, h in W, R and B: {@code z = σ(x Wzᵀ + h Rzᵀ + Wbz + Rbz)}, r likewise, {@code n = tanh(x
     * Whᵀ + r ⊙ (h Rhᵀ + Rbh) + Wbh)} for linear_before_reset = 1 (PyTorch's) or {@code tanh(x Whᵀ + (r ⊙ h) Rhᵀ +
     * Rbh + Wbh)} for 0, {@code h' = (1 − z) ⊙ n + z ⊙ h}.
     */
    static Value[] gru(Ctx c) {
        return run(c, 3, false);
    }

    /**
     * LSTM, gates i, o, f, c in W, R and B: {@code i = σ(x Wiᵀ + h Riᵀ + Wbi + Rbi)}, o and f likewise, {@code c̃
     * = tanh(...)}, {@code C' = f ⊙ C + i ⊙ c̃}, {@code h' = o ⊙ tanh(C')}.
     */
    static Value[] lstm(Ctx c) {
        return run(c, 4, true);
    }

    private static Value[] run(Ctx c, int gates, boolean lstm) {
        String op = c.op();
        checkAttributes(c, lstm);
        String direction = c.attrString("direction", "forward");
        int dirs = switch (direction) {
            case "forward", "reverse" -> 1;
            case "bidirectional" -> 2;
            default -> throw c.error("direction must be forward, reverse or bidirectional, got '" + direction + "'");
        };
        Traced x = c.traced(0);
        if (x.rank() != 3) {
            throw c.error(op + " takes X [seq_length, batch, input_size], got " + Tracer.shapeText(x));
        }
        int steps = x.shape()[0];
        int n = x.shape()[1];
        int in = x.shape()[2];
        int h = Math.toIntExact(c.attrInt("hidden_size", -1));
        Traced w = c.traced(1);
        Traced r = c.traced(2);
        if (h < 1 || !java.util.Arrays.equals(w.shape(), new int[] {dirs, gates * h, in})
                || !java.util.Arrays.equals(r.shape(), new int[] {dirs, gates * h, h})) {
            throw c.error(op + " with hidden_size " + h + " and direction " + direction + " takes W [" + dirs + ", "
                    + gates + "·hidden_size, " + in + "] and R [" + dirs + ", " + gates + "·hidden_size, hidden_size], "
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
        Var xs = swapFirstTwo(x);
        Var[] initialH = initial(c, 5, dirs, n, h);
        Var[] initialC = lstm ? initial(c, 6, dirs, n, h) : null;
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
                if (lstm) {
                    Var g = gx;
                    if (hp != null) {
                        g = g.add(hp.dotGeneral(rd, new int[] {1}, new int[] {1}, new int[0], new int[0]));
                    }
                    if (rb != null) {
                        g = g.add(rb);
                    }
                    Var i = gate(g, 0, h).sigmoid();
                    Var o = gate(g, 1, h).sigmoid();
                    Var f = gate(g, 2, h).sigmoid();
                    Var cc = gate(g, 3, h).tanh();
                    Var cn = cp == null ? i.mul(cc) : f.mul(cp).add(i.mul(cc));
                    hp = o.mul(cn.tanh());
                    cp = cn;
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
                    Var z = gate(zr, 0, h).sigmoid();
                    Var reset = gate(zr, 1, h).sigmoid();
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
                    Var nn = cand.tanh();
                    // (1 − z) ⊙ n + z ⊙ h = n + z ⊙ (h − n)
                    hp = hp == null ? nn.sub(z.mul(nn)) : nn.add(z.mul(hp.sub(nn)));
                }
                hs[t][d] = hp;
            }
            lastH[d] = hp;
            lastC[d] = cp;
        }
        // Y held [N, T, dirs, H], the file's [T, dirs, N, H] a view of it; Y_h and Y_c held [N, dirs, H]
        Var[] perStep = new Var[steps];
        for (int t = 0; t < steps; t++) {
            Var[] ds = new Var[dirs];
            for (int d = 0; d < dirs; d++) {
                ds[d] = hs[t][d].reshape(n, 1, 1, h);
            }
            perStep[t] = Var.concatenate(2, ds);
        }
        int batch = x.batch == 1 ? 0 : x.batch == NONE ? NONE : MIXED;
        if (w.batch != NONE || r.batch != NONE || b != null && b.batch != NONE) {
            batch = MIXED;
        }
        // an initial state computed from the examples ([dirs, N, H], its axis 1 theirs: a state read from x, a
        // learned h0 expanded to the batch) keeps them apart; one that mixes them (a mean over the batch added)
        // makes every output mix them too
        for (int i = 5; i <= (lstm ? 6 : 5); i++) {
            if (c.has(i) && c.in(i) instanceof Traced t && t.batch != NONE) {
                batch = t.batch == 1 && batch != MIXED ? 0 : MIXED;
            }
        }
        Traced y = new Traced(Var.concatenate(1, perStep), new int[] {1, 2, 0, 3}, batch == 0 ? 2 : batch);
        Traced yh = last(lastH, n, h, batch);
        Value[] out = new Value[c.node.getOutputCount()];
        out[0] = y;
        if (out.length > 1) {
            out[1] = yh;
        }
        if (out.length > 2) {
            out[2] = last(lastC, n, h, batch);
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

    /** [dirs, N, H] held as [N, dirs, H]. */
    private static Traced last(Var[] perDirection, int n, int h, int batch) {
        Var[] ds = new Var[perDirection.length];
        for (int d = 0; d < ds.length; d++) {
            ds[d] = perDirection[d].reshape(n, 1, h);
        }
        return new Traced(Var.concatenate(1, ds), new int[] {1, 0, 2}, batch == 0 ? 1 : batch);
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
     * The initial state of each direction, [N, H], from input i ([dirs, N, H]); null for zeros (the input absent,
     * or known at import to be zero: PyTorch's ConstantOfShape of zeros).
     */
    private static Var[] initial(Ctx c, int i, int dirs, int n, int h) {
        Var[] r = new Var[dirs];
        if (!c.has(i)) {
            return r;
        }
        Value v = c.in(i);
        if (!java.util.Arrays.equals(v.shape(), new int[] {dirs, n, h})) {
            throw c.error("input " + i + " (initial state) must have shape [" + dirs + ", " + n + ", " + h + "], got "
                    + Tracer.shapeText(v));
        }
        if (v instanceof Const k && !k.weightCandidate() && java.util.Arrays.stream(k.values()).allMatch(a -> a == 0)) {
            return r;
        }
        Var held = swapFirstTwo(c.traced(i));
        for (int d = 0; d < dirs; d++) {
            r[d] = held.sliceInDim(1, d, d + 1, 1).reshape(n, h);
        }
        return r;
    }

    private static void checkAttributes(Ctx c, boolean lstm) {
        AttributeProto acts = c.attr("activations");
        if (acts != null) {
            List<String> dflt = lstm ? List.of("sigmoid", "tanh", "tanh") : List.of("sigmoid", "tanh");
            for (int i = 0; i < acts.getStringsCount(); i++) {
                String a = acts.getStrings(i).toStringUtf8();
                if (!a.equalsIgnoreCase(dflt.get(i % dflt.size()))) {
                    throw c.unsupported("activations=" + acts.getStringsList().stream()
                            .map(com.google.protobuf.ByteString::toStringUtf8).toList() + " (only the default "
                            + dflt + ")");
                }
            }
        }
        if (c.attr("clip") != null) {
            throw c.unsupported("clip=" + c.attrFloat("clip", 0f) + " (no clipping only)");
        }
        if (lstm && c.attrInt("input_forget", 0) != 0) {
            throw c.unsupported("input_forget=1 (only 0)");
        }
        if (c.attrInt("layout", 0) != 0) {
            throw c.unsupported("layout=" + c.attrInt("layout", 0) + " (only 0, [seq_length, batch, ...], as PyTorch "
                    + "writes)");
        }
    }
}
