package org.ntk4j.onnx;

import static org.ntk4j.onnx.Tracer.MIXED;
import static org.ntk4j.onnx.Tracer.NONE;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import org.ntk4j.graph.Var;
import org.ntk4j.onnx.Tracer.Ctx;
import org.ntk4j.onnx.Tracer.Traced;
import org.ntk4j.onnx.Tracer.Value;
import org.ntk4j.tensor.Shapes;

/**
 * ONNX {@code Einsum} ({@code torch.einsum}, jax2tf's products) as compositions of existing primitives, so that every
 * kernel method has its rules: a label repeated within one operand (a diagonal, {@code ii->i}, or a trace) is a
 * transpose, a reshape merging the two axes and a slice of stride n + 1; a label of one operand only that the output
 * lacks is a sum; two operands are contracted by one dot_general (labels in both and kept are its batch axes, labels in
 * both and not kept its contracted axes), an axis of size 1 against a larger one (an ellipsis's broadcast) reshaped
 * away rather than broadcast; more than two are contracted pairwise left to right, keeping the labels the output or a
 * later operand needs; the last step writes the output's axis order (dot_general's fused transpose, or a transpose).
 *
 * <p>Labels are the letters; the axes under {@code ...} are aligned from the right across operands (NumPy's
 * broadcasting) and come first in an implicit output, followed by the letters used once, in ASCII order.
 */
final class Einsum {
    /** Label of the ellipsis axis {@code k} places from the right. */
    private static final int ELLIPSIS = 1000;

    private Einsum() {
    }

    /** An operand during the contraction: its value, one label per axis, and the label of its example axis. */
    private record Term(Var v, int[] labels, int batchLabel) {
        int axisOf(int label) {
            for (int i = 0; i < labels.length; i++) {
                if (labels[i] == label) {
                    return i;
                }
            }
            return -1;
        }
    }

    static Value[] apply(Ctx c) {
        String equation = c.attrString("equation", null);
        if (equation == null) {
            throw c.error("the attribute 'equation' is missing");
        }
        String eq = equation.replace(" ", "");
        int arrow = eq.indexOf("->");
        String[] specs = (arrow < 0 ? eq : eq.substring(0, arrow)).split(",", -1);
        if (specs.length != c.inputs() || c.inputs() == 0) {
            throw c.error("equation '" + equation + "' names " + specs.length + (specs.length == 1 ? " operand"
                    : " operands") + ", the node has " + c.inputs() + (c.inputs() == 1 ? " input" : " inputs"));
        }
        List<Term> terms = new ArrayList<>();
        int ellipsisRank = 0;
        int[] used = new int[128];
        for (int i = 0; i < specs.length; i++) {
            Traced t = c.traced(i);
            int[] labels = labels(c, equation, specs[i], t.rank(), "operand " + i + " of shape "
                    + Tracer.shapeText(t));
            for (int l : labels) {
                if (l >= ELLIPSIS) {
                    ellipsisRank = Math.max(ellipsisRank, l - ELLIPSIS + 1);
                } else {
                    used[l]++;
                }
            }
            int batchLabel = t.batch >= 0 ? labels[t.batch] : t.batch;
            terms.add(new Term(t.var(), labels, batchLabel));
        }
        int[] out;
        if (arrow >= 0) {
            String o = eq.substring(arrow + 2);
            if (o.contains("...")) {
                out = labels(c, equation, o, o.replace("...", "").length() + ellipsisRank, "the output");
            } else {
                out = labels(c, equation, o, o.length(), "the output");
            }
            for (int i = 0; i < out.length; i++) {
                for (int j = 0; j < i; j++) {
                    if (out[i] == out[j]) {
                        throw c.error("equation '" + equation + "' repeats '" + (char) out[i] + "' in the output");
                    }
                }
                if (out[i] < ELLIPSIS && used[out[i]] == 0) {
                    throw c.error("equation '" + equation + "': the output's '" + (char) out[i]
                            + "' is no operand's");
                }
            }
        } else {
            // implicit output: the ellipsis axes, then the letters used exactly once, in ASCII order
            List<Integer> o = new ArrayList<>();
            for (int k = ellipsisRank - 1; k >= 0; k--) {
                o.add(ELLIPSIS + k);
            }
            for (int l = 0; l < used.length; l++) {
                if (used[l] == 1) {
                    o.add(l);
                }
            }
            out = o.stream().mapToInt(Integer::intValue).toArray();
        }
        for (int i = 0; i < terms.size(); i++) {
            terms.set(i, diagonals(c, equation, terms.get(i)));
        }
        Term acc = sumOut(terms.get(0), needed(out, terms, 1, 0));
        for (int i = 1; i < terms.size(); i++) {
            Term next = sumOut(terms.get(i), needed(out, terms, i + 1, -1, acc));
            acc = contract(c, equation, sumOut(acc, needed(out, terms, i + 1, -1, next)), next,
                    needed(out, terms, i + 1, -1), i == terms.size() - 1 ? out : null);
        }
        int[] perm = new int[out.length];
        for (int i = 0; i < out.length; i++) {
            perm[i] = acc.axisOf(out[i]);
        }
        Var y = Arrays.equals(perm, Shapes.iota(out.length)) ? acc.v : acc.v.transpose(perm);
        int batch = acc.batchLabel >= 0 ? acc.axisOf(acc.batchLabel) : acc.batchLabel;
        return new Value[] {c.out(y, batch)};
    }

    /**
     * The labels of one operand's subscripts (or the output's) for {@code rank} axes: letters as their code, the
     * ellipsis's axes as {@link #ELLIPSIS} + their place from the right.
     */
    private static int[] labels(Ctx c, String equation, String spec, int rank, String what) {
        int dots = spec.indexOf("...");
        if (dots >= 0 && spec.indexOf("...", dots + 1) >= 0) {
            throw c.error("equation '" + equation + "' has two ellipses in the subscripts of " + what);
        }
        String letters = spec.replace("...", "");
        int covered = rank - letters.length();
        if (covered < 0 || (dots < 0 && covered != 0)) {
            throw c.error("equation '" + equation + "': subscripts '" + spec + "' do not fit " + what);
        }
        int[] r = new int[rank];
        int k = 0;
        for (int i = 0; i < spec.length(); i++) {
            if (i == dots) {
                for (int e = covered - 1; e >= 0; e--) {
                    r[k++] = ELLIPSIS + e;
                }
                i += 2;
                continue;
            }
            char ch = spec.charAt(i);
            if (!(ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z')) {
                throw c.error("equation '" + equation + "': '" + ch + "' in the subscripts of " + what
                        + " is not a letter");
            }
            r[k++] = ch;
        }
        return r;
    }

    /**
     * The operand with each repeated label reduced to its diagonal: the two axes moved last, merged (n·n) and
     * sliced with stride n + 1, which picks the elements (i, i).
     */
    private static Term diagonals(Ctx c, String equation, Term t) {
        for (int p = 0; p < t.labels.length; p++) {
            for (int q = p + 1; q < t.labels.length; q++) {
                if (t.labels[p] != t.labels[q]) {
                    continue;
                }
                int n = t.v.dim(p);
                if (t.v.dim(q) != n) {
                    throw c.error("equation '" + equation + "': label '" + (char) t.labels[p]
                            + "' is repeated on axes of sizes " + n + " and " + t.v.dim(q));
                }
                int r = t.labels.length;
                int[] perm = new int[r];
                int[] labels = new int[r - 1];
                int k = 0;
                for (int i = 0; i < r; i++) {
                    if (i != p && i != q) {
                        labels[k] = t.labels[i];
                        perm[k++] = i;
                    }
                }
                perm[r - 2] = p;
                perm[r - 1] = q;
                labels[r - 2] = t.labels[p];
                int[] merged = Arrays.copyOf(Shapes.permute(t.v.shape(), perm), r - 1);
                merged[r - 2] = n * n;
                Var d = t.v.transpose(perm).reshape(merged).sliceInDim(r - 2, 0, n * n, n + 1);
                int batchLabel = t.batchLabel == t.labels[p] ? MIXED : t.batchLabel;
                return diagonals(c, equation, new Term(d, labels, batchLabel));
            }
        }
        return t;
    }

    /** The labels the output or the operands from {@code from} on, or {@code also}, use. */
    private static Set<Integer> needed(int[] out, List<Term> terms, int from, int skip, Term... also) {
        Set<Integer> s = new TreeSet<>();
        for (int l : out) {
            s.add(l);
        }
        for (int i = Math.max(from, 0); i < terms.size(); i++) {
            if (i != skip) {
                for (int l : terms.get(i).labels) {
                    s.add(l);
                }
            }
        }
        for (Term t : also) {
            for (int l : t.labels) {
                s.add(l);
            }
        }
        return s;
    }

    /** The operand summed over its labels not in {@code keep}. */
    private static Term sumOut(Term t, Set<Integer> keep) {
        List<Integer> axes = new ArrayList<>();
        List<Integer> labels = new ArrayList<>();
        int batchLabel = t.batchLabel;
        for (int i = 0; i < t.labels.length; i++) {
            if (keep.contains(t.labels[i])) {
                labels.add(t.labels[i]);
            } else {
                axes.add(i);
                batchLabel = batchLabel == t.labels[i] ? MIXED : batchLabel;
            }
        }
        if (axes.isEmpty()) {
            return t;
        }
        return new Term(t.v.sum(axes.stream().mapToInt(Integer::intValue).toArray()),
                labels.stream().mapToInt(Integer::intValue).toArray(), batchLabel);
    }

    /**
     * a and b contracted by one dot_general: shared labels in {@code keep} are batch axes, other shared labels are
     * contracted (after {@link #dropBroadcast}). With {@code out}
     * (the last step) the result is written in the output's axis order.
     */
    private static Term contract(Ctx c, String equation, Term a0, Term b0, Set<Integer> keep, int[] out) {
        // a shared label of size 1 in one operand and n in the other (an ellipsis's broadcast) is the other's
        // alone: dropped where it is 1, summed out of the other unless kept. No operand is broadcast, so a
        // parameter never takes the examples' size (the per-example paths trace one example at a time)
        Term a = dropBroadcast(c, equation, a0, b0);
        Term b = dropBroadcast(c, equation, b0, a0);
        Set<Integer> keepA = new TreeSet<>(keep);
        Set<Integer> keepB = new TreeSet<>(keep);
        for (int l : b.labels) {
            keepA.add(l);
        }
        for (int l : a.labels) {
            keepB.add(l);
        }
        a = sumOut(a, keepA);
        b = sumOut(b, keepB);
        Var av = a.v;
        Var bv = b.v;
        List<Integer> batch = new ArrayList<>();
        List<Integer> contracted = new ArrayList<>();
        for (int l : a.labels) {
            if (b.axisOf(l) >= 0) {
                (keep.contains(l) ? batch : contracted).add(l);
            }
        }
        int[] lc = new int[contracted.size()];
        int[] rc = new int[contracted.size()];
        for (int i = 0; i < lc.length; i++) {
            lc[i] = a.axisOf(contracted.get(i));
            rc[i] = b.axisOf(contracted.get(i));
        }
        int[] lb = new int[batch.size()];
        int[] rb = new int[batch.size()];
        for (int i = 0; i < lb.length; i++) {
            lb[i] = a.axisOf(batch.get(i));
            rb[i] = b.axisOf(batch.get(i));
        }
        // result labels: batch, a's free, b's free
        Set<Integer> labels = new LinkedHashSet<>(batch);
        for (int l : a.labels) {
            if (b.axisOf(l) < 0) {
                labels.add(l);
            }
        }
        for (int l : b.labels) {
            if (a.axisOf(l) < 0) {
                labels.add(l);
            }
        }
        int[] rl = labels.stream().mapToInt(Integer::intValue).toArray();
        int batchLabel = combine(a.batchLabel, b.batchLabel);
        if (batchLabel >= 0 && contracted.contains(batchLabel)) {
            batchLabel = MIXED;
        }
        if (out != null && rl.length == out.length) {
            Term logical = new Term(null, rl, batchLabel);
            int[] perm = new int[out.length];
            for (int i = 0; i < out.length; i++) {
                perm[i] = logical.axisOf(out[i]);
            }
            if (!Arrays.equals(perm, Shapes.iota(out.length))) {
                return new Term(av.dotGeneral(bv, lc, rc, lb, rb, perm), out, batchLabel);
            }
        }
        return new Term(av.dotGeneral(bv, lc, rc, lb, rb), rl, batchLabel);
    }

    /**
     * t without its axes of size 1 whose label has another size in {@code other} (reshaped away), or an error for
     * two sizes above 1.
     */
    private static Term dropBroadcast(Ctx c, String equation, Term t, Term other) {
        List<Integer> sizes = new ArrayList<>();
        List<Integer> labels = new ArrayList<>();
        int batchLabel = t.batchLabel;
        for (int i = 0; i < t.labels.length; i++) {
            int j = other.axisOf(t.labels[i]);
            int n = t.v.dim(i);
            if (j >= 0 && n != other.v.dim(j)) {
                if (n != 1 && other.v.dim(j) != 1) {
                    throw c.error("equation '" + equation + "': label '" + label(t.labels[i]) + "' has sizes "
                            + n + " and " + other.v.dim(j) + " in two operands");
                }
                if (n == 1) {
                    batchLabel = batchLabel == t.labels[i] ? MIXED : batchLabel;
                    continue;
                }
            }
            sizes.add(n);
            labels.add(t.labels[i]);
        }
        if (labels.size() == t.labels.length) {
            return t;
        }
        return new Term(t.v.reshape(sizes.stream().mapToInt(Integer::intValue).toArray()),
                labels.stream().mapToInt(Integer::intValue).toArray(), batchLabel);
    }

    /** The example axis's label of a product of operands with example labels a and b. */
    private static int combine(int a, int b) {
        if (a == MIXED || b == MIXED || (a >= 0 && b >= 0 && a != b)) {
            return MIXED;
        }
        return a != NONE ? a : b;
    }

    private static String label(int l) {
        return l >= ELLIPSIS ? "..." : String.valueOf((char) l);
    }
}
