package org.ntk4j.ntk;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Function;

/**
 * A bounded cache of values built on first request, the least recently used dropped first once it holds more than
 * its capacity: the one eviction rule of the plan caches. Thread-safe: a value is built under the cache's lock, so
 * at most once while it stays cached (a build must not ask the same cache for another key).
 *
 * @param <K> the key type
 * @param <V> the value type
 */
final class LruCache<K, V> {
    private final LinkedHashMap<K, V> map;

    /** A cache of at most {@code capacity} values. */
    LruCache(int capacity) {
        this.map = new LinkedHashMap<>(16, 0.75f, true) {
            private static final long serialVersionUID = 1L;

            @Override
            protected boolean removeEldestEntry(Map.Entry<K, V> eldest) {
                return size() > capacity;
            }
        };
    }

    /** The value of {@code key}, built by {@code build} when not cached. */
    synchronized V get(K key, Function<? super K, ? extends V> build) {
        V v = map.get(key);
        if (v == null) {
            v = build.apply(key);
            map.put(key, v);
        }
        return v;
    }

    /** Number of values cached. */
    synchronized int size() {
        return map.size();
    }
}
