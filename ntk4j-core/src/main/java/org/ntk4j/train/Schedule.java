package org.ntk4j.train;

import java.util.Locale;

/**
 * A learning-rate schedule: the factor by which the base learning rate is multiplied at a (0-based, global)
 * optimisation step.
 *
 * @param kind constant, step or cosine
 * @param every for {@link Kind#STEP}: the number of epochs between decays (the factor is applied per epoch
 *     boundary, counted from the steps per epoch the trainer supplies)
 * @param factor for {@link Kind#STEP}: the decay factor
 */
public record Schedule(Kind kind, int every, double factor) {
    /** The schedule kinds. */
    public enum Kind {
        /** η at every step. */
        CONSTANT,
        /** η · factor^⌊epoch / every⌋. */
        STEP,
        /** η · (1 + cos(π t / T)) / 2 over the run's T steps (t from 0). */
        COSINE
    }

    /**
     * Checks the values.
     *
     * @param kind constant, step or cosine
     * @param every epochs between decays (step), at least 1
     * @param factor the decay factor (step), positive
     * @throws IllegalArgumentException if a value is out of range
     */
    public Schedule {
        if (kind == null) {
            throw new IllegalArgumentException("schedule: kind is null");
        }
        if (kind == Kind.STEP && (every < 1 || !(factor > 0) || Double.isInfinite(factor))) {
            throw new IllegalArgumentException("--schedule step:EVERY:FACTOR: EVERY must be ≥ 1 and FACTOR > 0, got "
                    + every + ", " + factor);
        }
    }

    /**
     * The constant schedule.
     *
     * @return η at every step
     */
    public static Schedule constant() {
        return new Schedule(Kind.CONSTANT, 1, 1);
    }

    /**
     * Step decay: the learning rate is multiplied by {@code factor} every {@code every} epochs.
     *
     * @param every epochs between decays, at least 1
     * @param factor the decay factor, positive
     * @return the schedule
     * @throws IllegalArgumentException if a value is out of range
     */
    public static Schedule step(int every, double factor) {
        return new Schedule(Kind.STEP, every, factor);
    }

    /**
     * Cosine decay from η to 0 over the run's total number of steps (epochs × steps per epoch).
     *
     * @return the schedule
     */
    public static Schedule cosine() {
        return new Schedule(Kind.COSINE, 1, 1);
    }

    /**
     * Parses {@code constant}, {@code step:EVERY:FACTOR} or {@code cosine}.
     *
     * @param text the schedule
     * @return the schedule
     * @throws IllegalArgumentException for any other text
     */
    public static Schedule parse(String text) {
        String t = text.trim().toLowerCase(Locale.ROOT);
        if (t.equals("constant")) {
            return constant();
        }
        if (t.equals("cosine")) {
            return cosine();
        }
        String[] p = t.split(":");
        if (p.length == 3 && p[0].equals("step")) {
            try {
                return step(Integer.parseInt(p[1]), Double.parseDouble(p[2]));
            } catch (NumberFormatException e) {
                // fall through to the message below
            }
        }
        throw new IllegalArgumentException("--schedule: expected constant, step:EVERY:FACTOR (e.g. step:2:0.1) or "
                + "cosine, got '" + text + "'");
    }

    /**
     * The learning-rate factor at a step.
     *
     * @param step the 0-based global step
     * @param stepsPerEpoch the number of steps in one epoch, at least 1
     * @param totalSteps the run's number of steps, at least 1
     * @return the factor by which the base learning rate is multiplied
     */
    public double factor(long step, long stepsPerEpoch, long totalSteps) {
        switch (kind) {
            case STEP:
                return Math.pow(factor, (step / stepsPerEpoch) / every);
            case COSINE:
                return 0.5 * (1 + Math.cos(Math.PI * step / totalSteps));
            default:
                return 1;
        }
    }

    /**
     * The form {@link #parse} reads.
     *
     * @return e.g. {@code step:2:0.1}
     */
    public String describe() {
        switch (kind) {
            case STEP:
                return "step:" + every + ":" + factor;
            case COSINE:
                return "cosine";
            default:
                return "constant";
        }
    }
}
