package org.ntk4j.nn;

import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * A parsed spec string {@code name(key=value,...)}: the name and its options, with typed getters that
 * report unknown options and bad values in one line naming the model and the option.
 */
public final class ModelSpec {
    private final String text;
    private final String name;
    private final Map<String, String> options;
    private final Set<String> used = new TreeSet<>();

    private ModelSpec(String text, String name, Map<String, String> options) {
        this.text = text;
        this.name = name;
        this.options = options;
    }

    /**
     * Parses {@code name} or {@code name(k=v,k=v)}; whitespace around tokens is ignored, names and keys are
     * lower-cased.
     *
     * @param text the spec string
     * @return the parsed spec
     * @throws IllegalArgumentException on a missing ')', an option without '=' or value, a repeated option, or a
     *     name that is not a letter followed by letters, digits or '_'
     */
    public static ModelSpec parse(String text) {
        String t = text.trim();
        int open = t.indexOf('(');
        String name;
        Map<String, String> opts = new LinkedHashMap<>();
        if (open < 0) {
            name = t;
        } else {
            if (!t.endsWith(")")) {
                throw new IllegalArgumentException("model spec '" + text + "': missing ')' at the end");
            }
            name = t.substring(0, open).trim();
            String body = t.substring(open + 1, t.length() - 1).trim();
            if (!body.isEmpty()) {
                for (String part : body.split(",", -1)) { // -1: an empty part before or after a comma is refused
                    int eq = part.indexOf('=');
                    if (eq <= 0) {
                        throw new IllegalArgumentException("model spec '" + text + "': expected key=value, got '"
                                + part.trim() + "'");
                    }
                    String key = part.substring(0, eq).trim().toLowerCase(Locale.ROOT);
                    String value = part.substring(eq + 1).trim();
                    if (value.isEmpty()) {
                        throw new IllegalArgumentException("model spec '" + text + "': option " + key
                                + " has no value");
                    }
                    if (opts.put(key, value) != null) {
                        throw new IllegalArgumentException("model spec '" + text + "': option " + key
                                + " given twice");
                    }
                }
            }
        }
        if (!name.matches("[A-Za-z][A-Za-z0-9_]*")) {
            throw new IllegalArgumentException("model spec '" + text + "': '" + name + "' is not a model name");
        }
        return new ModelSpec(text, name.toLowerCase(Locale.ROOT), opts);
    }

    /**
     * The model name.
     *
     * @return the lower-cased name
     */
    public String name() {
        return name;
    }

    /**
     * The spec string as given.
     *
     * @return the original text, untrimmed
     */
    public String text() {
        return text;
    }

    /**
     * Integer option with a default, required to be at least {@code min}. Marks the option as used.
     *
     * @param key the option's lower-case key
     * @param dflt the value when the option is absent (not checked against {@code min})
     * @param min the smallest accepted value
     * @return the option's value, or {@code dflt}
     * @throws IllegalArgumentException if the value is not an int or is below {@code min}
     */
    public int integer(String key, int dflt, int min) {
        used.add(key);
        String v = options.get(key);
        if (v == null) {
            return dflt;
        }
        int r;
        try {
            r = Integer.parseInt(v);
        } catch (NumberFormatException e) {
            if (v.trim().matches("[-+]?\\d+")) {
                throw new IllegalArgumentException(name + ": option " + key + "=" + v.trim() + " is too "
                        + (v.trim().startsWith("-") ? "small" : "large (at most " + Integer.MAX_VALUE + ")"));
            }
            throw new IllegalArgumentException(name + ": option " + key + " must be an integer, got '" + v + "'");
        }
        if (r < min) {
            throw new IllegalArgumentException(name + ": option " + key + " must be >= " + min + ", got " + r);
        }
        return r;
    }

    /**
     * Real option with a default, required to be at least {@code min}. Marks the option as used.
     *
     * @param key the option's lower-case key
     * @param dflt the value when the option is absent (not checked against {@code min})
     * @param min the smallest accepted value
     * @return the option's value, or {@code dflt}
     * @throws IllegalArgumentException if the value is not a finite number at least {@code min}
     */
    public double real(String key, double dflt, double min) {
        used.add(key);
        String v = options.get(key);
        if (v == null) {
            return dflt;
        }
        double r;
        try {
            r = Double.parseDouble(v);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(name + ": option " + key + " must be a number, got '" + v + "'");
        }
        if (!(r >= min) || Double.isInfinite(r)) {
            throw new IllegalArgumentException(name + ": option " + key + " must be a finite number >= " + min
                    + ", got " + v);
        }
        return r;
    }

    /**
     * String option with a default. Marks the option as used.
     *
     * @param key the option's lower-case key
     * @param dflt the value when the option is absent; may be null
     * @return the option's value as given (trimmed, case kept), or {@code dflt}
     */
    public String string(String key, String dflt) {
        used.add(key);
        return options.getOrDefault(key, dflt);
    }

    /**
     * Fails if an option was given that no getter asked for (call after reading all options).
     *
     * @param known the list of valid options, for the message
     * @throws IllegalArgumentException naming the first unknown option
     */
    public void rejectUnknown(String known) {
        for (String k : options.keySet()) {
            if (!used.contains(k)) {
                throw new IllegalArgumentException(name + ": unknown option '" + k + "'; options are " + known);
            }
        }
    }
}
