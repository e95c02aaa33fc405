package org.ntk4j.cli;

import java.math.BigInteger;
import java.util.List;
import picocli.CommandLine;
import picocli.CommandLine.Model.ArgSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Model.PositionalParamSpec;

/**
 * The one line that replaces picocli's usage text when the command line itself is wrong: an unknown option or
 * command (with picocli's nearest match), a missing or unconvertible value. {@code Main} appends "; see 'CMD
 * --help'"; the benchmark commands ({@code ./ntk4j bench NAME}, module ntk4j-bench) use it too.
 */
public final class ArgumentErrors {
    private ArgumentErrors() {
    }

    /**
     * The one line for a command line picocli could not parse.
     *
     * @param ex picocli's exception
     * @return the problem, naming the option and the value given, without a final full stop
     */
    public static String message(CommandLine.ParameterException ex) {
        if (ex instanceof CommandLine.UnmatchedArgumentException) {
            return unmatched((CommandLine.UnmatchedArgumentException) ex);
        }
        if (ex instanceof CommandLine.MissingParameterException) {
            List<ArgSpec> missing = ((CommandLine.MissingParameterException) ex).getMissing();
            if (missing != null && missing.size() == 1 && missing.get(0).isOption()) {
                return name(missing.get(0)) + " needs a value";
            }
        }
        ArgSpec arg = ex.getArgSpec();
        if (arg != null && ex.getValue() != null && ex.getCause() != null) {
            return invalidValue(arg, ex.getValue(), ex.getCause());
        }
        return oneLine(ex.getMessage());
    }

    /**
     * Refuses a list option given more than once ({@code --kinds pntk,trace --kinds logit:0}), as picocli refuses
     * any other option given twice: picocli would join the lists, which a user who meant the second to replace the
     * first (or a shape, {@code explain --input 3,32 --input 32}, to be one) does not expect. One comma-separated
     * list per option; the {@code ntk4j} commands and the benchmark commands check their parse results with it.
     * A multi-value option without a split (no comma-separated list: {@code --input-shape NAME:SHAPE}, given once
     * per input of an ONNX model) is meant to be repeated and is left to its command.
     *
     * @param parseResult picocli's parse of a command line (its subcommands' are checked too)
     * @throws CommandLine.ParameterException naming the option and the first two lists
     */
    public static void refuseRepeatedLists(CommandLine.ParseResult parseResult) {
        for (CommandLine.ParseResult r = parseResult; r != null; r = r.subcommand()) {
            for (OptionSpec o : r.matchedOptions()) {
                List<String> given = o.originalStringValues();
                if (o.isMultiValue() && !o.splitRegex().isEmpty() && given.size() > 1) {
                    throw new CommandLine.ParameterException(r.commandSpec().commandLine(), o.longestName()
                            + ": given twice (" + o.longestName() + " " + given.get(0) + " and " + o.longestName()
                            + " " + given.get(1) + "); give one comma-separated list");
                }
            }
        }
    }

    private static String unmatched(CommandLine.UnmatchedArgumentException ex) {
        List<String> unmatched = ex.getUnmatched();
        String first = unmatched.isEmpty() ? "?" : unmatched.get(0);
        String problem;
        if (first.startsWith("-") && first.length() > 1) {
            problem = "unknown option " + first;
            String name = first.contains("=") ? first.substring(0, first.indexOf('=')) : first;
            boolean checkpoints = ex.getCommandLine().getCommandSpec().findOption("--checkpoints") != null;
            if (name.equals("--params-in") && checkpoints) {
                // study measures a run's checkpoints, many parameter files per width, not one file
                return problem + ": " + ex.getCommandLine().getCommandName() + " reads each width's parameter files "
                        + "(.npz) through --checkpoints PATTERN, e.g. 'ckpt/w{width}/epoch-{epoch}.npz'";
            }
        } else if (!ex.getCommandLine().getSubcommands().isEmpty()) {
            problem = "unknown command '" + first + "'";
        } else {
            problem = "unexpected argument '" + first + "'";
        }
        // picocli's nearest names: options sharing the first two letters, or the most similar commands
        List<String> suggestions = ex.getSuggestions();
        if (problem.startsWith("unknown command") && !first.isEmpty()) {
            // picocli's similarity of letter pairs also offers commands that share only a few ('kernal': convergence);
            // those starting with the same letter, when there are any, are the plausible typos
            List<String> same = new java.util.ArrayList<>();
            for (String c : suggestions) {
                if (!c.isEmpty() && Character.toLowerCase(c.charAt(0)) == Character.toLowerCase(first.charAt(0))) {
                    same.add(c);
                }
            }
            if (!same.isEmpty()) {
                suggestions = same;
            }
        }
        if (suggestions.isEmpty()) {
            return problem;
        }
        if (suggestions.size() == 1) {
            return problem + "; did you mean " + suggestions.get(0) + "?";
        }
        List<String> some = suggestions.subList(0, Math.min(3, suggestions.size()));
        return problem + "; did you mean " + String.join(", ", some.subList(0, some.size() - 1)) + " or "
                + some.get(some.size() - 1) + "?";
    }

    /** "--seed: expected an integer, got 'abc'"; our own converters' messages are kept. */
    private static String invalidValue(ArgSpec arg, String value, Throwable cause) {
        Class<?> type = arg.auxiliaryTypes().length > 0 ? arg.auxiliaryTypes()[0] : arg.type();
        String what = name(arg);
        if (arg.converters().length > 0 && cause instanceof CommandLine.TypeConversionException
                && cause.getMessage() != null) {
            return what + ": " + oneLine(cause.getMessage()); // one of our own converters
        }
        if (type == int.class || type == Integer.class || type == long.class || type == Long.class) {
            String v = value.trim();
            if (v.matches("[-+]?\\d+")) {
                boolean isInt = type == int.class || type == Integer.class;
                BigInteger limit = BigInteger.valueOf(isInt ? Integer.MAX_VALUE : Long.MAX_VALUE);
                BigInteger given = new BigInteger(v.startsWith("+") ? v.substring(1) : v);
                return what + ": " + v + " is too " + (given.signum() < 0 ? "small (at least " + limit.negate()
                        .subtract(BigInteger.ONE) : "large (at most " + limit) + ")";
            }
            return what + ": expected an integer, got '" + value + "'";
        }
        if (type == double.class || type == Double.class || type == float.class || type == Float.class) {
            return what + ": expected a number, got '" + value + "'";
        }
        return what + ": invalid value '" + value + "'" + (cause.getMessage() == null ? ""
                : " (" + oneLine(cause.getMessage()) + ")");
    }

    private static String name(ArgSpec arg) {
        if (arg instanceof OptionSpec) {
            return ((OptionSpec) arg).longestName();
        }
        return ((PositionalParamSpec) arg).paramLabel();
    }

    /**
     * Picocli's message on one line, starting lower case and without a final full stop, since {@code Main}
     * continues it ("unknown subcommand 'x'; see ...").
     */
    private static String oneLine(String text) {
        String t = text == null ? "invalid command line" : text.strip().replaceAll("\\s*\\R\\s*", " ");
        if (t.endsWith(".") && !t.endsWith("..")) {
            t = t.substring(0, t.length() - 1);
        }
        return t.isEmpty() ? t : Character.toLowerCase(t.charAt(0)) + t.substring(1);
    }
}
