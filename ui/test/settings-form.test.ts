import { describe, expect, it } from "vitest";
import type { Cluster } from "../src/api/types";
import {
  addressError,
  clusterInput,
  draftOf,
  durationError,
  emptyDraft,
  endpointError,
  keepsToken,
  pendingRestart,
  receiverDraft,
  receiverSettings,
  validateCluster,
  validateReceiver,
  type ClusterDraft,
} from "../src/settings-form";

const stored: Cluster = {
  name: "shop",
  view_only: false,
  agents: [
    { endpoint: "http://10.0.0.1:7700", tls: null },
    { endpoint: "https://agent.example.com:7700", tls: { ca: "/etc/ca.pem", domain: null } },
  ],
};

function draft(change: Partial<ClusterDraft> = {}): ClusterDraft {
  return {
    name: "shop",
    viewOnly: false,
    agents: [{ endpoint: "http://127.0.0.1:7700", token: "secret", tls: false, ca: "", domain: "" }],
    ...change,
  };
}

describe("endpointError", () => {
  it("accepts http with TLS off and https with TLS on", () => {
    expect(endpointError("http://127.0.0.1:7700", false)).toBeNull();
    expect(endpointError("https://agent.example.com:7700", true)).toBeNull();
    expect(endpointError("http://agent:7700/", false)).toBeNull();
  });

  it("says what is wrong", () => {
    expect(endpointError("", false)).toMatch(/needed/);
    expect(endpointError("127.0.0.1:7700", false)).toMatch(/http|URL/);
    expect(endpointError("ftp://host:21", false)).toMatch(/http:\/\/ or https:\/\//);
    expect(endpointError("http://host:7700/api", false)).toMatch(/no path/);
    expect(endpointError("http://u:p@host:7700", false)).toMatch(/token in its field/);
    expect(endpointError("http://host:7700", true)).toMatch(/https/);
    expect(endpointError("https://host:7700", false)).toMatch(/TLS on/);
  });
});

describe("validateCluster (adding)", () => {
  it("passes a complete cluster", () => {
    expect(validateCluster(draft())).toEqual({});
  });

  it("puts each error at its field", () => {
    const errors = validateCluster(
      draft({
        name: "bad name!",
        agents: [
          { endpoint: "nonsense", token: "", tls: false, ca: "", domain: "" },
          { endpoint: "http://h:1", token: "has space", tls: false, ca: "", domain: "" },
        ],
      }),
    );
    expect(Object.keys(errors).sort()).toEqual(["agents.0.endpoint", "agents.0.token", "agents.1.token", "name"]);
  });

  it("refuses a taken or empty name, no agents and an agent listed twice", () => {
    expect(validateCluster(draft({ name: "shop" }), { existing: ["shop"] }).name).toMatch(/exists/);
    expect(validateCluster(draft({ name: " " })).name).toMatch(/name/);
    expect(validateCluster(draft({ agents: [] })).agents).toMatch(/at least one/);
    const twice = draft({
      agents: [
        { endpoint: "http://h:1", token: "t", tls: false, ca: "", domain: "" },
        { endpoint: "http://h:1/", token: "t", tls: false, ca: "", domain: "" },
      ],
    });
    expect(validateCluster(twice)["agents.1.endpoint"]).toMatch(/twice/);
  });
});

describe("editing", () => {
  it("starts from the stored cluster with blank tokens and TLS as stored", () => {
    const d = draftOf(stored);
    expect(d.name).toBe("shop");
    expect(d.agents.map((a) => [a.endpoint, a.token, a.tls, a.ca])).toEqual([
      ["http://10.0.0.1:7700", "", false, ""],
      ["https://agent.example.com:7700", "", true, "/etc/ca.pem"],
    ]);
  });

  it("lets a blank token keep the stored one, but not for a new address", () => {
    const d = draftOf(stored);
    expect(validateCluster(d, { editing: stored })).toEqual({});
    expect(keepsToken(d.agents[0], stored)).toBe(true);
    d.agents[0].endpoint = "http://10.0.0.9:7700";
    expect(keepsToken(d.agents[0], stored)).toBe(false);
    expect(validateCluster(d, { editing: stored })["agents.0.token"]).toMatch(/new agent address needs its token/);
  });

  it("leaves blank tokens and the name out of the PUT body", () => {
    const d = draftOf(stored);
    d.agents[1].token = "fresh";
    const body = clusterInput(d, stored);
    expect(body).toEqual({
      view_only: false,
      agents: [
        { endpoint: "http://10.0.0.1:7700", tls: null },
        { endpoint: "https://agent.example.com:7700", token: "fresh", tls: { ca: "/etc/ca.pem", domain: null } },
      ],
    });
    expect("token" in body.agents[0]).toBe(false);
  });

  it("sends the name, tokens and a trimmed endpoint when adding", () => {
    const d = emptyDraft();
    d.name = " shop ";
    d.viewOnly = true;
    d.agents[0] = { endpoint: " http://h:7700/ ", token: "t", tls: false, ca: "", domain: "" };
    expect(clusterInput(d)).toEqual({ name: "shop", view_only: true, agents: [{ endpoint: "http://h:7700", token: "t", tls: null }] });
  });
});

describe("receiver settings", () => {
  const saved = { otlp_grpc: "127.0.0.1:4317", otlp_http: "127.0.0.1:4318", retention_age: "7days", retention_size_mib: 2048 };

  it("checks addresses", () => {
    expect(addressError("127.0.0.1:4317")).toBeNull();
    expect(addressError("[::1]:4317")).toBeNull();
    expect(addressError("0.0.0.0:4318")).toBeNull();
    expect(addressError("localhost:4318")).toMatch(/not a host name/);
    expect(addressError("4317")).toMatch(/IP:port/);
    expect(addressError("300.0.0.1:4317")).toMatch(/0 to 255/);
    expect(addressError("127.0.0.1:70000")).toMatch(/1 to 65535/);
    expect(addressError("")).toMatch(/address/);
  });

  it("checks durations the way the receiver reads them", () => {
    for (const ok of ["7days", "36h", "2weeks", "1week 2days", "off", "90m"]) expect(durationError(ok)).toBeNull();
    for (const bad of ["", "seven days", "7", "-1d"]) expect(durationError(bad)).not.toBeNull();
  });

  it("validates the whole form and builds the PUT body", () => {
    const d = receiverDraft(saved);
    expect(validateReceiver(d)).toEqual({});
    expect(receiverSettings(d)).toEqual(saved);
    const bad = { ...d, otlpHttp: d.otlpGrpc, retentionSizeMib: "1.5", retentionAge: "soon" };
    expect(Object.keys(validateReceiver(bad)).sort()).toEqual(["otlpHttp", "retentionAge", "retentionSizeMib"]);
  });

  it("saves blank fields as null: the default", () => {
    const blank = { otlpGrpc: " ", otlpHttp: "", retentionAge: "", retentionSizeMib: "" };
    expect(validateReceiver(blank)).toEqual({});
    expect(receiverSettings(blank)).toEqual({ otlp_grpc: null, otlp_http: null, retention_age: null, retention_size_mib: null });
  });

  it("names the fields that wait for a restart", () => {
    expect(pendingRestart(saved, { ...saved, otlp_grpc: "127.0.0.1:4000" })).toEqual(["otlp_grpc"]);
    expect(pendingRestart(saved, saved)).toEqual([]);
  });
});
