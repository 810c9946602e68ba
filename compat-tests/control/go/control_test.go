// Go recipe for Odradek's control API with the standard library only: a cluster per test
// (deleted by t.Cleanup), the manual clock, waits that time out with the state seen, and fault
// rules. Pair it with any Go Kafka client pointed at the cluster's Bootstrap.
// Needs ODRADEK_CONTROL=HOST:PORT.
package control

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
)

type cluster struct {
	ID        string `json:"id"`
	Bootstrap string `json:"bootstrap"`
	ClusterID string `json:"cluster_id"`
	Clock     string `json:"clock"`
	base      string
}

func call(t *testing.T, method, url, body string, want int) map[string]any {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("%s %s %s: want HTTP %d, got %d: %s", method, url, body, want, resp.StatusCode, raw)
	}
	var out map[string]any
	_ = json.Unmarshal(raw, &out)
	return out
}

func newCluster(t *testing.T, opts string) *cluster {
	t.Helper()
	base := "http://" + os.Getenv("ODRADEK_CONTROL")
	v := call(t, "POST", base+"/v1/clusters", opts, 201)
	raw, _ := json.Marshal(v)
	c := &cluster{base: base}
	if err := json.Unmarshal(raw, c); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { call(t, "DELETE", base+"/v1/clusters/"+c.ID, "", 200) })
	return c
}

func (c *cluster) post(t *testing.T, route, body string, want int) map[string]any {
	t.Helper()
	return call(t, "POST", c.base+"/v1/clusters/"+c.ID+route, body, want)
}

func TestManualClockAndWaits(t *testing.T) {
	t.Parallel()
	c := newCluster(t, `{"clock":"manual"}`)
	if c.Clock != "manual" || c.Bootstrap == "" {
		t.Fatalf("unexpected cluster %+v", c)
	}
	clock := call(t, "GET", c.base+"/v1/clusters/"+c.ID+"/clock", "", 200)
	before := int64(clock["now_ms"].(float64))
	after := c.post(t, "/clock/advance", `{"ms":60000}`, 200)
	if got := int64(after["now_ms"].(float64)); got != before+60000 {
		t.Fatalf("advance 60000 from %d gave %d", before, got)
	}
	seen := c.post(t, "/wait", `{"for":"topic","topic":"orders","timeout_ms":100}`, 408)
	if seen["ok"] != false || seen["seen"].(map[string]any)["exists"] != false {
		t.Fatalf("wait answered %v", seen)
	}
}

func TestFaultRulesCount(t *testing.T) {
	t.Parallel()
	c := newCluster(t, `{}`)
	rule := c.post(t, "/faults", `{"match":{"api_key":0,"topic":"t"},"action":{"type":"error","code":6},"times":3}`, 201)
	if rule["fired"].(float64) != 0 || rule["times"].(float64) != 3 {
		t.Fatalf("new rule %v", rule)
	}
	c.post(t, "/faults", `{"action":{"type":"error","code":6}}`, 400)
	cleared := call(t, "DELETE", c.base+"/v1/clusters/"+c.ID+"/faults", "", 200)
	if cleared["removed"].(float64) != 1 {
		t.Fatalf("clear answered %v", cleared)
	}
}

func TestIsolatedClusters(t *testing.T) {
	t.Parallel()
	a, b := newCluster(t, `{}`), newCluster(t, `{}`)
	if a.ClusterID == b.ClusterID || a.Bootstrap == b.Bootstrap {
		t.Fatalf("clusters share an identity: %+v %+v", a, b)
	}
}
