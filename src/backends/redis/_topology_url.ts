/**
 * URLs of distributed Redis deployments: `redis+cluster://h1:p1,h2:p2` (Redis Cluster: seed
 * nodes, used only to discover the cluster) and `redis+sentinel://s1:p1,s2:p2/mymaster[/db]`
 * (the primary named `mymaster`, found through these Sentinels). `rediss+…` use TLS. The user
 * name and password, if any, are the data nodes' (the Sentinels' own, when they need one, come
 * from the `sentinelPassword` query parameter).
 *
 * @module
 */

/** One `host:port`. */
export interface NodeAddress {
  host: string;
  port: number;
}

/** What a `redis+cluster://` or `redis+sentinel://` URL says. */
export interface TopologyUrl {
  kind: "cluster" | "sentinel";
  tls: boolean;
  username: string | undefined;
  password: string | undefined;
  nodes: NodeAddress[];
  /** Sentinel: the primary's name. */
  masterName: string | undefined;
  /** Sentinel: the database number (a cluster has only 0). */
  database: number;
  /** Sentinel: the Sentinels' password (`?sentinelPassword=`). */
  sentinelPassword: string | undefined;
}

const SCHEME = /^(rediss?)\+(cluster|sentinel):\/\//i;

/** Whether `url` is a `redis+cluster://` or `redis+sentinel://` URL (or their `rediss+` forms). */
export function isTopologyUrl(url: string): boolean {
  return SCHEME.test(url);
}

function decode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/**
 * Parses a topology URL. Messages never quote the URL (the caller names it, redacted).
 *
 * @throws {TypeError} When it is malformed (the message says what is wrong).
 */
export function parseTopologyUrl(url: string): TopologyUrl {
  const scheme = SCHEME.exec(url);
  if (!scheme) throw new TypeError("it must start with redis+cluster:// or redis+sentinel://");
  const kind = scheme[2].toLowerCase() as "cluster" | "sentinel";
  let rest = url.slice(scheme[0].length);
  let query = "";
  const question = rest.indexOf("?");
  if (question >= 0) {
    query = rest.slice(question + 1).replace(/#.*$/, "");
    rest = rest.slice(0, question);
  }
  rest = rest.replace(/#.*$/, "");
  let username: string | undefined;
  let password: string | undefined;
  const at = rest.lastIndexOf("@");
  if (at >= 0) {
    const userInfo = rest.slice(0, at);
    rest = rest.slice(at + 1);
    const colon = userInfo.indexOf(":");
    if (colon < 0) password = decode(userInfo);
    else {
      username = decode(userInfo.slice(0, colon)) || undefined;
      password = decode(userInfo.slice(colon + 1));
    }
  }
  const slash = rest.indexOf("/");
  const hostList = slash < 0 ? rest : rest.slice(0, slash);
  const path = slash < 0 ? "" : rest.slice(slash + 1);
  const defaultPort = kind === "cluster" ? 6379 : 26379;
  const nodes = hostList.split(",").filter((part) => part !== "").map((part) => {
    const match = /^\[([^\]]+)\](?::(\d+))?$/.exec(part) ?? /^([^:\[\]]+)(?::(\d+))?$/.exec(part);
    if (!match) throw new TypeError(`"${part}" is not a host:port`);
    const port = match[2] === undefined ? defaultPort : Number(match[2]);
    if (!(port > 0 && port < 65536)) throw new TypeError(`"${part}" has no valid port`);
    return { host: match[1], port };
  });
  if (nodes.length === 0) throw new TypeError("it names no node (host:port,host:port)");
  const segments = path.split("/").filter((part) => part !== "").map(decode);
  let masterName: string | undefined;
  let database = 0;
  if (kind === "sentinel") {
    masterName = segments[0];
    if (!masterName) {
      throw new TypeError(
        "it names no primary: add its Sentinel name as the path (redis+sentinel://host:26379/mymaster)",
      );
    }
    if (segments[1] !== undefined) database = Number(segments[1]);
    if (!Number.isInteger(database) || database < 0 || segments.length > 2) {
      throw new TypeError("its path must be /<primary name> or /<primary name>/<database number>");
    }
  } else if (segments.length > 0 && !(segments.length === 1 && segments[0] === "0")) {
    throw new TypeError("a Redis Cluster has only database 0: give no path");
  }
  let sentinelPassword: string | undefined;
  for (const pair of query.split("&")) {
    const equals = pair.indexOf("=");
    if (equals > 0 && decode(pair.slice(0, equals)) === "sentinelPassword") {
      sentinelPassword = decode(pair.slice(equals + 1));
    }
  }
  return {
    kind,
    tls: scheme[1].toLowerCase() === "rediss",
    username,
    password,
    nodes,
    masterName,
    database,
    sentinelPassword,
  };
}

/**
 * Builds a `redis+cluster://` URL from seed nodes given as `host:port` or
 * `redis[s]://[user:password@]host:port` (the first node's scheme and credentials apply to all).
 */
export function clusterUrl(rootNodes: readonly string[]): string {
  const first = /^(rediss?):\/\/(?:([^@/]*)@)?/i.exec(rootNodes[0] ?? "");
  const hosts = rootNodes.map((node) =>
    node.replace(/^rediss?:\/\/(?:[^@/]*@)?/i, "").replace(/\/.*$/, "")
  );
  const userInfo = first?.[2] === undefined ? "" : `${first[2]}@`;
  return `${first?.[1]?.toLowerCase() ?? "redis"}+cluster://${userInfo}${hosts.join(",")}`;
}
