package org.ntk4j.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;
import org.ntk4j.io.Checkpoints;
import org.ntk4j.io.Standardizer;

/**
 * What a checkpoint of {@code ntk4j train} says of the network it trained (its model and the scale of its inputs),
 * for the commands that compute with its parameters ({@code kernel --params-in}).
 */
final class TrainedInputs {
    private TrainedInputs() {
    }

    /**
     * Warns, one line each on {@code err}, when {@code params} is a checkpoint of {@code ntk4j train} (its {@code
     * .state.npz} beside it) whose run trained another {@code --model} spec than {@code model} (blanks and case
     * aside; parameters of the same shapes fit a network of another activation, say), or standardised its inputs
     * otherwise than {@code mode}: {@code train}'s default
     * is {@code --standardize global}, {@code kernel}'s is {@code none}, so {@code kernel --params-in ck.npz} would
     * otherwise compute the trained network's kernel on inputs of another scale than it was trained on, and say
     * nothing. A warning, not a refusal: the kernel at other inputs is a legitimate question. Files without a
     * state file ({@code --params-out}, other programs') and state files without the record say nothing; so does a
     * state file that cannot be read (the parameter file, read next, is what the command needs).
     *
     * @param option the option that named the file, e.g. {@code --params-in}
     * @param params the parameter file; null: nothing to check
     * @param model the command's model spec, as written
     * @param mode the standardisation the command applies to its inputs
     * @param data what the command computes on, for the message, e.g. {@code --data fashion-mnist:test:100}
     * @param err where the warning goes
     */
    static void warnIfTrainedOtherwise(String option, Path params, String model, Standardizer.Mode mode,
                                       String data, PrintWriter err) {
        Map<String, String> run = recorded(params);
        if (run == null) {
            return;
        }
        String trainedModel = run.get("model");
        if (trainedModel != null && !canonical(trainedModel).equals(canonical(model))) {
            err.println("ntk4j: warning: " + option + " " + params + " was trained as --model " + trainedModel
                    + "; this command computes with --model " + model.strip() + ", whose network is another one "
                    + "unless the two specs say the same in other words");
        }
        String trained = run.get("standardize");
        String here = mode.name().toLowerCase(Locale.ROOT).replace('_', '-');
        if (trained == null || trained.equals(here)) {
            err.flush();
            return;
        }
        err.println("ntk4j: warning: " + option + " " + params + " was trained on inputs standardised by "
                + "--standardize " + trained + ", and this command computes on " + data + " with --standardize "
                + here + ": the network sees inputs of another scale than it was trained on (docs/training.md)");
        err.flush();
    }

    /**
     * The run a checkpoint of {@code ntk4j train} records ({@link Checkpoints#run}: its model, standardisation, ...),
     * read from the {@code .state.npz} beside {@code params}; null for a file without one ({@code --params-out},
     * another program's), a state file itself, or a state file that cannot be read (the parameter file, read next,
     * is what the command needs).
     *
     * @param params the parameter file; null gives null
     * @return the recorded settings, or null
     */
    static Map<String, String> recorded(Path params) {
        if (params == null) {
            return null;
        }
        String name = params.getFileName() == null ? "" : params.getFileName().toString();
        if (!name.endsWith(".npz") || name.endsWith(Checkpoints.STATE_SUFFIX)) {
            return null;
        }
        String stem = name.substring(0, name.length() - ".npz".length());
        Path dir = params.toAbsolutePath().getParent();
        if (dir == null || !Files.isRegularFile(dir.resolve(stem + Checkpoints.STATE_SUFFIX))) {
            return null;
        }
        try {
            return Checkpoints.run(dir, stem);
        } catch (IOException | IllegalArgumentException e) {
            return null;
        }
    }

    /** A spec without blanks, in lower case (the zoo reads specs without regard to case). */
    private static String canonical(String spec) {
        return spec.replaceAll("\\s+", "").toLowerCase(Locale.ROOT);
    }
}
