package org.ntk4j.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import org.ntk4j.io.Checkpoints;
import org.ntk4j.io.Standardizer;
import org.ntk4j.nn.ModelSpec;
import org.ntk4j.nn.Zoo;

/**
 * What a parameter file of {@code ntk4j train} (a checkpoint, or {@code --params-out}'s file: both have their
 * {@code .state.npz} beside them) says of the network it trained (its model and the scale of its inputs), for the
 * commands that compute with its parameters ({@code kernel}, {@code predict} and {@code study}).
 */
final class TrainedInputs {
    /** The record's key of the standardisation's means, comma-separated (one for global, one per feature). */
    static final String MEAN = "standardize_mean";
    /** The record's key of the standardisation's standard deviations, laid out as {@link #MEAN}. */
    static final String STD = "standardize_std";
    /**
     * How far statistics may differ and still be the same: in units of σ for a mean, relatively for σ. The same
     * data loaded in f32 and in f64 give statistics some 1e-8 apart (each value rounded to f32); another sample of
     * the same images, 1e-3 and more.
     */
    private static final double SAME = 1e-6;

    private TrainedInputs() {
    }

    /**
     * The standardisation {@code kernel}, {@code predict} and {@code train --params-in} apply to their data: when
     * {@code params} has a record of {@code ntk4j train} with the statistics its run fitted, in the mode the command
     * standardises by, those statistics rather than {@code fitted} (the command's own, from its {@code --train} or
     * {@code --data}), with a line on
     * {@code err} when the two differ; otherwise {@code fitted}. Warns, one line each, when the run trained another
     * {@code --model} spec than {@code model} (blanks and case aside; parameters of the same shapes fit a network of
     * another activation, say), or standardised its inputs in another mode than {@code fitted}'s: {@code train}'s
     * default is {@code --standardize global}, {@code kernel}'s is {@code none}, so {@code kernel --params-in ck.npz}
     * would otherwise compute the trained network's kernel on inputs of another scale than it was trained on, and
     * say nothing. A warning, not a refusal: the kernel at other inputs is a legitimate question. Files without a
     * state file (other programs', {@code kernel --params-out}'s) and state files without the record say nothing;
     * so does a state file that cannot be read or belongs to other parameters ({@link #recorded}).
     *
     * <p>Why the recorded ones: the parameters are those of a network whose inputs were standardised by its
     * training data's μ and σ, and kernel and predict ask for that network's kernel and predictions (train goes on
     * training it); their data
     * (often a subset, for a tractable kernel) has other statistics, and the network would see inputs of another scale
     * than it was trained on, silently (before 2026-12-07). The same mode is the condition because
     * {@code --standardize} is the user's word on the kind of standardisation: another mode is a choice, warned
     * of, not overridden. Files without statistics (another program's, {@code kernel --params-out}'s, checkpoints
     * written before they were recorded) keep the command's own, as before.
     *
     * @param option the option that named the file, {@code --params-in}
     * @param params the parameter file; null: {@code fitted}
     * @param model the command's model spec, as written
     * @param fitted the standardisation fitted on the command's training data
     * @param data what the command fitted {@code fitted} on, for the messages, e.g. {@code --train default:train:200}
     * @param err where the warnings and the line go
     * @return the standardisation to apply to all of the command's inputs
     */
    static Standardizer standardizer(String option, Path params, String model, Standardizer fitted, String data,
                                     PrintWriter err) {
        Map<String, String> run = recorded(params);
        if (run == null) {
            return fitted;
        }
        warnIfOtherModel(option, params, run, model, err);
        String trained = run.get("standardize");
        String here = fitted.mode().optionName();
        if (trained == null) {
            err.flush();
            return fitted;
        }
        if (!trained.equals(here)) {
            warnOtherMode(option, params, trained, data, here, err);
            return fitted;
        }
        Standardizer recorded;
        try {
            recorded = fitted.mode() == Standardizer.Mode.NONE || !run.containsKey(MEAN) ? null
                    : Standardizer.of(fitted.mode(), parse(run.get(MEAN)), parse(run.get(STD)));
        } catch (IllegalArgumentException e) {
            recorded = null; // a record that cannot be read as statistics: the command's own, as for none
        }
        if (recorded == null) {
            err.flush();
            return fitted;
        }
        if (recorded.mean().length != fitted.mean().length) {
            err.println("ntk4j: warning: " + option + " " + params + " was trained on inputs standardised per "
                    + "feature over " + recorded.mean().length + " features, and " + data + " has "
                    + fitted.mean().length + ": standardising by its own statistics");
            err.flush();
            return fitted;
        }
        String apart = difference(recorded, fitted);
        if (apart != null) {
            err.println("ntk4j: " + option + " " + params + ": standardising by the statistics its training run "
                    + "fitted (" + describe(recorded) + "), not by those of " + data + " (" + apart + "), so that "
                    + "the network sees inputs of the scale it was trained at (docs/training.md)");
        }
        err.flush();
        return recorded;
    }

    /**
     * The warning of another --model spec than the run's ({@link #sameSpec}: the order of the options, defaults
     * written out or left out, case and blanks aside); {@code study} gives each width's spec.
     *
     * @param option the option that named the file, e.g. {@code --params-in} or {@code --checkpoints}
     * @param params the parameter file
     * @param run its run's record ({@link #recorded})
     * @param model the spec the command computes with
     * @param err where the warning goes
     * @return true when it warned
     */
    static boolean warnIfOtherModel(String option, Path params, Map<String, String> run, String model,
                                    PrintWriter err) {
        String trainedModel = run.get("model");
        if (trainedModel != null && !sameSpec(trainedModel, model)) {
            err.println("ntk4j: warning: " + option + " " + params + " was trained as --model " + trainedModel
                    + "; this command computes with --model " + model.strip() + ", whose network is another one "
                    + "unless the two specs say the same in other words");
            return true;
        }
        return false;
    }

    /**
     * Whether two model specs say the same: for a zoo model, the same name and the same value of every option, an
     * option left out taking its default ({@link Zoo#knownOptions}; {@code fcn(depth=3)} is {@code fcn}), the
     * options in any order, numbers by value ({@code 08} is {@code 8}, {@code 1.50} is {@code 1.5}), an act or a
     * param by what it names ({@code swish} is {@code silu}), case and blanks aside; any other spec (an expansion
     * such as {@code linearize(...)}, or one that does not parse) by its text, case and blanks aside. The study
     * names each width's spec as {@link Zoo#withWidth} writes it, its width option last, where train's record has
     * the spec as its user wrote it (before 2026-12-07, texts were compared, and
     * {@code fcn(out=10,depth=1,width=8)} was warned of as another network than {@code fcn(depth=1,width=8,out=10)}).
     *
     * @param a a model spec
     * @param b another
     * @return true when they name the same network
     */
    static boolean sameSpec(String a, String b) {
        Map<String, String> x = effectiveOptions(a);
        Map<String, String> y = effectiveOptions(b);
        return x != null && y != null ? x.equals(y) : canonical(a).equals(canonical(b));
    }

    /**
     * A zoo spec's name (under the key {@code ""}) and every option's value, defaults included, numbers as
     * {@link #value}; null for a spec that does not parse or names no zoo model.
     */
    private static Map<String, String> effectiveOptions(String spec) {
        ModelSpec parsed;
        String known;
        try {
            parsed = ModelSpec.parse(spec);
            known = Zoo.knownOptions(parsed.name());
        } catch (IllegalArgumentException e) {
            return null;
        }
        Map<String, String> options = new TreeMap<>();
        options.put("", parsed.name());
        // "key=default, ...; act=leaky_relu also takes slope=0.01": the defaults, then the slope's (a slope is
        // refused with any other act, so its default can stand for every spec of the model)
        int semicolon = known.indexOf(';');
        for (String option : (semicolon < 0 ? known : known.substring(0, semicolon)).split(",")) {
            putOption(options, option);
        }
        if (semicolon >= 0) {
            int slope = known.indexOf("slope=", semicolon);
            if (slope >= 0) {
                putOption(options, known.substring(slope));
            }
        }
        String text = spec.strip();
        int open = text.indexOf('(');
        if (open >= 0) {
            String body = text.substring(open + 1, text.length() - 1);
            if (!body.isBlank()) {
                for (String option : body.split(",")) {
                    putOption(options, option); // ModelSpec.parse checked each is key=value, no key twice
                }
            }
        }
        return options;
    }

    /** Puts {@code key=value} with the key in lower case and the value as {@link #value}. */
    private static void putOption(Map<String, String> options, String option) {
        int eq = option.indexOf('=');
        String key = option.substring(0, eq).strip().toLowerCase(Locale.ROOT);
        options.put(key, value(key, option.substring(eq + 1)));
    }

    /**
     * A value as the zoo reads it: a number by its value as a double ({@code +2}, {@code 2.0}, {@code 08} and
     * {@code 2}; {@code 1e-3} and {@code 0.001}; what the model reads, so {@code b_std=1e-400} is {@code b_std=0}),
     * an act or a param by what it names ({@code swish} is {@code silu}, {@code std} is {@code standard}), else in
     * lower case. Before the late-night review of 2026-12-07 numbers were compared as decimals, whose plain text
     * {@code b_std=1e-999999999} ran the JVM out of memory, and the aliases as words, warned of as other networks.
     */
    private static String value(String key, String text) {
        String v = text.strip();
        try {
            double d = Double.parseDouble(v);
            return Double.toString(d == 0 ? 0.0 : d); // -0 is 0: a scale the zoo multiplies by
        } catch (NumberFormatException e) {
            // not a number: a word
        }
        try {
            if (key.equals("act")) {
                return org.ntk4j.nn.Activation.parse(v).function().name().toLowerCase(Locale.ROOT);
            }
            if (key.equals("param")) {
                return org.ntk4j.nn.Parameterization.parse(v).name().toLowerCase(Locale.ROOT);
            }
        } catch (IllegalArgumentException e) {
            // a word the zoo refuses: compared as written
        }
        return v.toLowerCase(Locale.ROOT);
    }

    /** The warning of another --standardize than the run's. */
    private static void warnOtherMode(String option, Path params, String trained, String data, String here,
                                      PrintWriter err) {
        err.println("ntk4j: warning: " + option + " " + params + " was trained on inputs standardised by "
                + "--standardize " + trained + ", and this command computes on " + data + " with --standardize "
                + here + ": the network sees inputs of another scale than it was trained on (docs/training.md)");
        err.flush();
    }

    /**
     * Numbers as the record holds them: comma-separated, each as {@link Double#toString}, which reads back to the
     * same double.
     *
     * @param values the numbers
     * @return the text
     */
    static String numbers(double[] values) {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < values.length; i++) {
            b.append(i == 0 ? "" : ",").append(values[i]);
        }
        return b.toString();
    }

    /** The numbers of {@link #numbers}; a malformed list is an IllegalArgumentException (NumberFormatException). */
    private static double[] parse(String text) {
        if (text == null || text.isEmpty()) {
            throw new IllegalArgumentException("no numbers");
        }
        String[] parts = text.split(",", -1);
        double[] v = new double[parts.length];
        for (int i = 0; i < v.length; i++) {
            v[i] = Double.parseDouble(parts[i]);
        }
        return v;
    }

    /** The recorded statistics, for the line: global μ and σ, or per-feature's count. */
    private static String describe(Standardizer s) {
        return s.mode() == Standardizer.Mode.GLOBAL
                ? String.format(Locale.ROOT, "global: mean %.6g, std %.6g", s.mean()[0], s.std()[0])
                : "per-feature: " + s.mean().length + " means and stds";
    }

    /**
     * How far {@code fitted} is from {@code recorded}, for the line, or null when within {@link #SAME}: each mean
     * in units of the recorded σ, each σ relatively.
     */
    private static String difference(Standardizer recorded, Standardizer fitted) {
        double[] m0 = recorded.mean();
        double[] s0 = recorded.std();
        double[] m1 = fitted.mean();
        double[] s1 = fitted.std();
        double worst = 0;
        int at = 0;
        for (int i = 0; i < m0.length; i++) {
            double d = Math.max(Math.abs(m1[i] - m0[i]) / s0[i], Math.abs(s1[i] / s0[i] - 1));
            if (d > worst) {
                worst = d;
                at = i;
            }
        }
        if (!(worst > SAME)) {
            return null;
        }
        return recorded.mode() == Standardizer.Mode.GLOBAL
                ? String.format(Locale.ROOT, "mean %.6g, std %.6g", m1[0], s1[0])
                : String.format(Locale.ROOT, "up to %.3g apart, at feature %d: mean %.6g against %.6g, std %.6g "
                        + "against %.6g", worst, at, m1[at], m0[at], s1[at], s0[at]);
    }

    /**
     * The run a parameter file of {@code ntk4j train} records ({@link Checkpoints#record}: its model,
     * standardisation, ...), read from the {@code .state.npz} beside {@code params} (a checkpoint's, or
     * {@code train --params-out}'s); null for a file without one (another program's, {@code kernel --params-out}'s),
     * a state file itself, a state file written with other parameters than the file holds now (the file was
     * replaced since: the record is not its), or a state file that cannot be read (the parameter file, read next,
     * is what the command needs).
     *
     * @param params the parameter file; null gives null
     * @return the recorded settings, or null
     */
    static Map<String, String> recorded(Path params) {
        if (params == null) {
            return null;
        }
        try {
            return Checkpoints.record(params);
        } catch (IOException | IllegalArgumentException e) {
            return null;
        }
    }

    /** A spec without blanks, in lower case (the zoo reads specs without regard to case). */
    private static String canonical(String spec) {
        return spec.replaceAll("\\s+", "").toLowerCase(Locale.ROOT);
    }
}
