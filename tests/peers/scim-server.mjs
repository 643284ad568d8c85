// tests/peers/scim-server.mjs -- a real SCIM 2.0 server for the integration
// tests and the benchmark: scimmy + scimmy-routers on express 4, Users with
// the enterprise extension and a small credential extension, an in-memory
// store that pages in the handler (see /work/shared/PEERS.md), a bearer
// token (static, or issued by the OAuth2 client-credentials endpoint), and
// fault injection on the SCIM port driven from a separate admin port.
//
// Speed: SCIMMY builds a schema object per resource it returns (about 2.5 ms
// each here), which would make a 10,000-user pull take 25 s on the server
// alone. Plain list GETs (no filter, attributes or excludedAttributes) are
// therefore answered by a fast path that writes the stored resources as
// SCIMMY does (schemas, meta.location added); the integration test checks
// that both give the same resource. So is the delta filter
// `meta.lastModified gt "TIME"`. Everything else -- single GETs,
// filters, POST, PUT, PATCH, DELETE, errors -- goes through scimmy-routers.
//
//   node scim-server.mjs --port P --admin-port A [--token T] [--users N]
//        [--client-id ID --client-secret S]
//
// Admin API (JSON, admin port only):
//   GET  /stats                    counts of users, requests, faults injected
//   GET  /dump                     every user (as stored) as a JSON array
//   POST /faults {"every": K, "kinds": ["500","429","reset","slow","truncate",
//                 "reset_after","503"], "retry_after": "1" | "date",
//                 "slow_ms": 3000, "methods": ["GET", ...]}
//                                  every K-th SCIM request gets the next kind
//   POST /faults {}                no faults
//   POST /down {"ms": 3000}        close the SCIM port for that long
//   POST /mutate {"ids": [...], "set": {...}}   change users server-side
//   POST /delete {"ids": [...]}    delete users server-side
import express from "express";
import SCIMMY from "scimmy";
import SCIMMYRouters from "scimmy-routers";
import http from "node:http";
import crypto from "node:crypto";

const args = Object.fromEntries(process.argv.slice(2).reduce((a, v, i, all) =>
    (v.startsWith("--") ? [...a, [v.slice(2), all[i + 1]]] : a), []));
const PORT = Number(args.port ?? 8080);
const ADMIN_PORT = Number(args["admin-port"] ?? PORT + 1);
const TOKEN = args.token ?? "test-token";
const NUSERS = Number(args.users ?? 0);
const CLIENT_ID = args["client-id"] ?? "gateway";
const CLIENT_SECRET = args["client-secret"] ?? "client-secret";

const ENT = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const CRED = "urn:ietf:params:scim:schemas:extension:mobileid:2.0:User";

// ---- store -----------------------------------------------------------------
const users = new Map();     // id -> user
let order = [];              // ids sorted (ids are zero-padded: creation order)
let orderDirty = false;
let seq = 0;
const byUserName = new Map();
const stats = {requests: 0, faults: {}, created: 0, updated: 0, deleted: 0, conflicts: 0};

function now() { return new Date().toISOString(); }
function newId() { seq++; return "u" + String(seq).padStart(9, "0"); }
function sorted() {
    if (orderDirty) { order = [...users.keys()].sort(); orderDirty = false; }
    return order;
}
function put(u) {
    const old = users.get(u.id);
    if (old && old.userName.toLowerCase() !== u.userName.toLowerCase()) byUserName.delete(old.userName.toLowerCase());
    if (!old) orderDirty = true;
    users.set(u.id, u);
    byUserName.set(u.userName.toLowerCase(), u.id);
}
function remove(id) {
    const u = users.get(id);
    if (!u) return false;
    users.delete(id);
    byUserName.delete(u.userName.toLowerCase());
    orderDirty = true;
    return true;
}
function seedUser(i) {
    const n = String(i).padStart(6, "0");
    const t = now();
    return {
        id: newId(), userName: `user${n}@example.com`, externalId: `ext-${n}`,
        name: {givenName: `Given${n}`, familyName: `Family${n}`},
        emails: [{value: `user${n}@example.com`, type: "work", primary: true}],
        phoneNumbers: [{value: `+4470000${n}`, type: "mobile"}],
        active: true,
        [ENT]: {employeeNumber: `E${n}`},
        meta: {resourceType: "User", created: t, lastModified: t, version: `W/"1"`},
    };
}
for (let i = 1; i <= NUSERS; i++) put(seedUser(i));
sorted();

// ---- SCIM resources --------------------------------------------------------
const credExt = new SCIMMY.Types.SchemaDefinition("MobileIdCredential", CRED,
    "Mobile ID credential written back by mobileid-gateway (test server extension)", [
        new SCIMMY.Types.Attribute("string", "facilityCode"),
        new SCIMMY.Types.Attribute("string", "cardNumber"),
        new SCIMMY.Types.Attribute("string", "cardFormat"),
    ]);
SCIMMY.Resources.declare(SCIMMY.Resources.User
    .extend(SCIMMY.Schemas.EnterpriseUser, false)
    .extend(credExt, false)
    .ingress((resource, instance) => {
        const t = now();
        const data = JSON.parse(JSON.stringify(instance));
        delete data.schemas;
        if (resource.id) {
            const old = users.get(resource.id);
            if (!old) throw new SCIMMY.Types.Error(404, null, `Resource ${resource.id} not found`);
            const other = byUserName.get(String(data.userName).toLowerCase());
            if (other && other !== resource.id) {
                stats.conflicts++;
                throw new SCIMMY.Types.Error(409, "uniqueness", `userName ${data.userName} is taken`);
            }
            const v = Number(String(old.meta.version).replace(/\D/g, "")) + 1;
            const u = {...data, id: resource.id,
                       meta: {resourceType: "User", created: old.meta.created, lastModified: t, version: `W/"${v}"`}};
            put(u);
            stats.updated++;
            return u;
        }
        if (byUserName.has(String(data.userName).toLowerCase())) {
            stats.conflicts++;
            throw new SCIMMY.Types.Error(409, "uniqueness", `userName ${data.userName} already exists`);
        }
        const u = {...data, id: newId(), meta: {resourceType: "User", created: t, lastModified: t, version: `W/"1"`}};
        put(u);
        stats.created++;
        return u;
    })
    .egress((resource) => {
        if (resource.id) {
            const u = users.get(resource.id);
            if (!u) throw new SCIMMY.Types.Error(404, null, `Resource ${resource.id} not found`);
            return u;
        }
        const c = resource.constraints ?? {};
        const start = Math.max(Number(c.startIndex ?? 1), 1);
        const count = Math.min(Math.max(Number(c.count ?? 100), 0), 1000);
        let list;
        if (resource.filter) {
            list = resource.filter.match(sorted().map((id) => users.get(id)));
            // SCIMMY slices a list itself when it is the whole result
            c.totalResults = list.length;
            return list.slice(start - 1, start - 1 + count);
        }
        const ids = sorted();
        c.totalResults = ids.length;
        resource.constraints = c;
        return ids.slice(start - 1, start - 1 + count).map((id) => users.get(id));
    })
    .degress((resource) => {
        if (!remove(resource.id)) throw new SCIMMY.Types.Error(404, null, `Resource ${resource.id} not found`);
        stats.deleted++;
    }));

// ---- the SCIM app ------------------------------------------------------------
let faults = {};
let faultCounter = 0;
let faultKind = 0;
const issued = new Map(); // oauth2 access tokens -> expiry ms

const app = express();
app.disable("x-powered-by");
app.use(express.urlencoded({extended: false}));
app.post("/oauth/token", (req, res) => {
    const auth = req.header("Authorization") ?? "";
    let id = req.body.client_id, secret = req.body.client_secret;
    if (auth.startsWith("Basic ")) [id, secret] = Buffer.from(auth.slice(6), "base64").toString().split(":");
    if (req.body.grant_type !== "client_credentials") return res.status(400).json({error: "unsupported_grant_type"});
    if (id !== CLIENT_ID || secret !== CLIENT_SECRET) return res.status(401).json({error: "invalid_client"});
    const tok = crypto.randomBytes(16).toString("hex");
    issued.set(tok, Date.now() + 3600e3);
    res.json({access_token: tok, token_type: "Bearer", expires_in: 3600});
});
app.use("/scim", (req, res, next) => {
    stats.requests++;
    if (!faults.every) return next();
    if (faults.methods && !faults.methods.includes(req.method)) return next();
    if (++faultCounter % faults.every !== 0) return next();
    const kinds = faults.kinds ?? ["500"];
    const kind = kinds[faultKind++ % kinds.length];
    stats.faults[kind] = (stats.faults[kind] ?? 0) + 1;
    const ra = faults.retry_after === "date" ? new Date(Date.now() + 1000).toUTCString() : String(faults.retry_after ?? 1);
    switch (kind) {
    case "500": return res.status(500).json({detail: "injected 500"});
    case "502": return res.status(502).send("bad gateway");
    case "503": return res.status(503).set("Retry-After", ra).json({detail: "injected 503"});
    case "429": return res.status(429).set("Retry-After", ra).json({detail: "injected 429"});
    case "reset": return req.socket.destroy();
    case "slow": return setTimeout(next, faults.slow_ms ?? 3000);
    case "truncate":
        res.writeHead(200, {"Content-Type": "application/scim+json", "Content-Length": "5000"});
        res.write('{"schemas":["urn:ietf:params:scim:api:messages:2.0:ListResponse"],"totalResults":');
        return setTimeout(() => req.socket.destroy(), 20);
    case "reset_after": {
        // the request is applied, the answer is lost
        res.end = function () { req.socket.destroy(); return this; };
        return next();
    }
    default: return next();
    }
});
const LIST_ID = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
const CORE = "urn:ietf:params:scim:schemas:core:2.0:User";
function bearerOk(req) {
    const h = req.header("Authorization") ?? "";
    const t = h.startsWith("Bearer ") ? h.slice(7) : "";
    return t === TOKEN || (issued.get(t) ?? 0) > Date.now();
}
function renderFast(u) {
    const out = {schemas: [CORE, ...[ENT, CRED].filter((k) => k in u)]};
    for (const [k, v] of Object.entries(u)) if (k !== "meta") out[k] = v;
    out.meta = {...u.meta, location: `/scim/Users/${u.id}`};
    return out;
}
app.get("/scim/Users", (req, res, next) => {
    const q = req.query;
    // the one filter a delta pull sends is served from the store directly
    const lm = typeof q.filter === "string" && /^meta\.lastModified gt "([^"]+)"$/.exec(q.filter);
    if (lm && !Number.isNaN(Date.parse(lm[1])) && q.attributes === undefined && bearerOk(req)) {
        const since = Date.parse(lm[1]);
        const ids = sorted().filter((id) => Date.parse(users.get(id).meta.lastModified) > since);
        const start = Math.max(Number.parseInt(q.startIndex ?? "1") || 1, 1);
        const count = Math.min(Math.max(Number.parseInt(q.count ?? "20") || 0, 0), 1000);
        const page = ids.slice(start - 1, start - 1 + count).map((id) => renderFast(users.get(id)));
        return res.status(200).type("application/scim+json").send(JSON.stringify(
            {schemas: [LIST_ID], totalResults: ids.length, Resources: page, startIndex: start, itemsPerPage: page.length}));
    }
    if (q.filter !== undefined || q.attributes !== undefined || q.excludedAttributes !== undefined ||
        (q.sortBy !== undefined && q.sortBy !== "id") || q.sortOrder === "descending" || !bearerOk(req)) return next();
    const ids = sorted();
    const start = Math.max(Number.parseInt(q.startIndex ?? "1") || 1, 1);
    const count = Math.min(Math.max(Number.parseInt(q.count ?? "20") || 0, 0), 1000);
    const page = ids.slice(start - 1, start - 1 + count).map((id) => renderFast(users.get(id)));
    res.status(200).type("application/scim+json").send(JSON.stringify(
        {schemas: [LIST_ID], totalResults: ids.length, Resources: page, startIndex: start, itemsPerPage: page.length}));
});
app.use("/scim", new SCIMMYRouters({
    type: "bearer",
    docUri: "https://example.invalid/auth",
    handler: (request) => {
        const h = request.header("Authorization") ?? "";
        if (!h.startsWith("Bearer ")) throw new Error("Authorization not detected");
        const t = h.slice(7);
        if (t === TOKEN || (issued.get(t) ?? 0) > Date.now()) return "gateway";
        throw new Error("Invalid token");
    },
}));

let server = http.createServer(app);
server.keepAliveTimeout = 30000;
const sockets = new Set();
function listen() {
    server = http.createServer(app);
    server.keepAliveTimeout = 30000;
    server.on("connection", (s) => { sockets.add(s); s.on("close", () => sockets.delete(s)); });
    server.listen(PORT, "127.0.0.1");
}
listen();

// ---- admin -------------------------------------------------------------------
const admin = express();
admin.use(express.json({limit: "50mb"}));
admin.get("/stats", (req, res) => res.json({...stats, users: users.size}));
admin.get("/dump", (req, res) => res.json(sorted().map((id) => users.get(id))));
admin.post("/faults", (req, res) => { faults = req.body ?? {}; faultCounter = 0; faultKind = 0; res.json(faults); });
admin.post("/down", (req, res) => {
    const ms = Number(req.body?.ms ?? 3000);
    server.close();
    for (const s of sockets) s.destroy();
    setTimeout(listen, ms);
    res.json({down_ms: ms});
});
admin.post("/mutate", (req, res) => {
    const t = now();
    let n = 0;
    for (const id of req.body.ids ?? []) {
        const u = users.get(id);
        if (!u) continue;
        const v = Number(String(u.meta.version).replace(/\D/g, "")) + 1;
        const nu = JSON.parse(JSON.stringify(u));
        for (const [k, val] of Object.entries(req.body.set ?? {})) {
            const path = k.split("."), last = path.pop();
            let o = nu;
            for (const p of path) o = (o[p] ??= {});
            o[last] = val;
        }
        nu.meta = {...u.meta, lastModified: t, version: `W/"${v}"`};
        put(nu);
        n++;
    }
    res.json({changed: n});
});
admin.post("/delete", (req, res) => {
    let n = 0;
    for (const id of req.body.ids ?? []) if (remove(id)) n++;
    res.json({deleted: n});
});
admin.listen(ADMIN_PORT, "127.0.0.1");
process.on("SIGTERM", () => process.exit(0));
