package compat;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The broker's control API (HTTP + JSON, docs/control-api.json) from plain JDK classes: what a
 * JUnit test needs to get its own cluster, move its clock, wait and inject faults. The address
 * comes from ODRADEK_CONTROL (HOST:PORT). JSON answers are read with small field extractors.
 */
final class ControlApi {
    private final String base;
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    /** The cluster this handle acts on ("default" unless made by {@link #newCluster}). */
    final String cluster;
    final String bootstrap;

    private ControlApi(String base, String cluster, String bootstrap) {
        this.base = base;
        this.cluster = cluster;
        this.bootstrap = bootstrap;
    }

    static ControlApi fromEnv() {
        String addr = System.getenv("ODRADEK_CONTROL");
        if (addr == null || addr.isEmpty()) throw new IllegalStateException("ODRADEK_CONTROL is not set");
        return new ControlApi("http://" + addr, "default", null);
    }

    /** A new, separate cluster in the broker process, e.g. {"clock":"manual"}. */
    ControlApi newCluster(String json) throws Exception {
        String r = call("POST", "/v1/clusters", json, 201);
        return new ControlApi(base, str(r, "id"), str(r, "bootstrap"));
    }

    void delete() throws Exception {
        call("DELETE", "/v1/clusters/" + cluster, null, 200);
    }

    private String scoped(String path) {
        return "/v1/clusters/" + cluster + path;
    }

    /** POST/GET/DELETE on this cluster's route; fails unless the status is {@code want}. */
    String on(String method, String path, String json, int want) throws Exception {
        return call(method, scoped(path), json, want);
    }

    int status(String method, String path, String json) throws Exception {
        return send(method, scoped(path), json).statusCode();
    }

    String advance(long ms) throws Exception {
        return on("POST", "/clock/advance", "{\"ms\":" + ms + "}", 200);
    }

    /** Waits for a condition (see the Condition schema); fails with the state seen if it times out. */
    String waitFor(String conditionJson) throws Exception {
        return on("POST", "/wait", conditionJson, 200);
    }

    String addFault(String ruleJson) throws Exception {
        return on("POST", "/faults", ruleJson, 201);
    }

    private HttpResponse<String> send(String method, String path, String json) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(base + path)).timeout(Duration.ofSeconds(60))
                .header("Content-Type", "application/json");
        HttpRequest.BodyPublisher body = json == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(json);
        return http.send(b.method(method, body).build(), HttpResponse.BodyHandlers.ofString());
    }

    private String call(String method, String path, String json, int want) throws Exception {
        HttpResponse<String> r = send(method, path, json);
        if (r.statusCode() != want) {
            throw new Common.Mismatch(method + " " + path + " " + (json == null ? "" : json) + ": expected HTTP " + want
                    + " but got " + r.statusCode() + ": " + r.body());
        }
        return r.body();
    }

    static String str(String json, String field) {
        Matcher m = Pattern.compile("\"" + Pattern.quote(field) + "\"\\s*:\\s*\"([^\"]*)\"").matcher(json);
        if (!m.find()) throw new Common.Mismatch("no string field " + field + " in " + json);
        return m.group(1);
    }

    static long num(String json, String field) {
        Matcher m = Pattern.compile("\"" + Pattern.quote(field) + "\"\\s*:\\s*(-?\\d+)").matcher(json);
        if (!m.find()) throw new Common.Mismatch("no number field " + field + " in " + json);
        return Long.parseLong(m.group(1));
    }
}
