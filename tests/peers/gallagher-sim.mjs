// tests/peers/gallagher-sim.mjs -- a SIMULATOR of the Gallagher Command
// Centre REST API (cardholders part), for the integration tests only.
//
// It is NOT Gallagher software and shares no code with it. It was written
// from Gallagher's public REST documentation (repository
// GallagherSecurity/cc-rest-docs: swagger/cardholdersApi.yaml,
// swagger/eventsApi.yaml "securityDefinitions", training/README.md "The
// request process" and "Client-side certificates") and imitates the
// behaviour those documents describe, as far as the gateway uses it:
//
//   * every /api request needs `Authorization: GGL-API-KEY <key>` (the
//     scheme in upper case); a missing or unknown key is answered 401 with a
//     JSON body {"message": "..."}; a REST client with a pinned certificate
//     thumbprint (SHA-1, as `openssl x509 -fingerprint` prints it) refuses a
//     request whose TLS client certificate has another thumbprint (401);
//     `--no-licence` answers 403 "Feature not licensed";
//   * GET /api: the features document with the hrefs a client follows;
//   * GET /api/cardholders: pages of cardholder summaries sorted by id
//     (`sort`, `top`, `fields`), a `next.href` while there are more, none on
//     the last page; an operator without the view privilege sees no results;
//   * GET/PATCH/DELETE /api/cardholders/{id}, POST /api/cardholders (201 +
//     Location), DELETE /api/cardholders/{id}/cards/{card}: PATCH takes flat
//     fields, "@PDF" values (null deletes one) and "cards": {"add", "update",
//     "remove"} as the PATCH example describes, answers 204; an operator
//     without the edit privilege gets 403; a cardholder locked by another
//     operator gives 409 with the operator's name;
//   * GET /api/cardholders/changes: the first call returns no results and a
//     `next.href` bookmark at the head of the queue; following it returns the
//     changes since then (type add/update/remove, item.href, time, oldValues,
//     newValues; operator and cardholder only when `fields` asks for them;
//     no cardholder block after a remove) and always a new `next.href`,
//     which moves even when there are no results; `top` caps a page (1000);
//   * GET /api/card_types, /api/card_types/assign, /api/personal_data_fields.
//
// Hrefs are built from the Host header of the request, so the links a
// client receives are on the origin it used (as Command Centre's are). An
// href sent back to the simulator is recognised by its path.
//
// A control interface for the test itself (seed, change as another
// operator, lock, dump) lives under /__sim/ on the same port and needs no
// API key: it stands for an operator at a Command Centre workstation.
//
// Usage:
//   node gallagher-sim.mjs --port N [--host 127.0.0.1]
//        --api-key KEY[:PRIVS] ...        PRIVS: edit (default) | view | none
//        [--tls-cert F --tls-key F]       HTTPS (a client certificate is asked
//        [--pin SHA1]                      for; --pin checks its thumbprint)
//        [--no-licence]
//
// Control interface (JSON in, JSON out):
//   POST   /__sim/seed               {"cardTypes":[...], "pdfs":[...], "cardholders":[...]}
//   PATCH  /__sim/cardholders/ID     same body as the API's PATCH, made by "Workstation operator"
//   POST   /__sim/cardholders        same body as the API's POST
//   DELETE /__sim/cardholders/ID
//   POST   /__sim/lock/ID            {"operator": "NAME"}  (DELETE to unlock)
//   GET    /__sim/state              {"cardholders": [...details...], "changes": N, "requests": [...]}

import http from 'node:http';
import https from 'node:https';
import fs from 'node:fs';
import crypto from 'node:crypto';

// ---- arguments ----------------------------------------------------------------------------------

const args = process.argv.slice(2);
const opt = { host: '127.0.0.1', port: 0, keys: new Map(), tlsCert: null, tlsKey: null, pin: null, licence: true };
for (let i = 0; i < args.length; i++) {
	const a = args[i];
	const val = () => {
		if (i + 1 >= args.length) throw new Error(`${a} needs a value`);
		return args[++i];
	};
	if (a === '--port') opt.port = Number(val());
	else if (a === '--host') opt.host = val();
	else if (a === '--api-key') {
		const v = val();
		const c = v.lastIndexOf(':');
		const privs = c > 0 ? v.slice(c + 1) : 'edit';
		opt.keys.set(c > 0 ? v.slice(0, c) : v, privs);
	} else if (a === '--tls-cert') opt.tlsCert = val();
	else if (a === '--tls-key') opt.tlsKey = val();
	else if (a === '--pin') opt.pin = val().replace(/:/g, '').toUpperCase();
	else if (a === '--no-licence') opt.licence = false;
	else throw new Error(`unknown argument ${a}`);
}
if (!opt.port) throw new Error('--port is required');

// ---- store --------------------------------------------------------------------------------------

const S = {
	cardholders: new Map(),   // id -> cardholder (internal form)
	cardTypes: new Map(),     // id -> {id, name, credentialClass}
	pdfs: new Map(),          // name -> {id, name, type}
	changes: [],              // {seq, time, type, id, operator, oldValues, newValues}
	seq: 1000,                // last change sequence number
	nextId: 5000,
	locks: new Map(),         // cardholder id -> operator name
	requests: [],             // {method, path, status} of /api requests (last 500)
};
const REST_OPERATOR = { name: 'REST Operator', id: '100' };
const WS_OPERATOR = { name: 'Workstation operator', id: '1' };

const FLAT = ['firstName', 'lastName', 'shortName', 'description', 'authorised', 'notes'];

function cardTypeFromHref(href) {
	const m = /\/api\/card_types\/([^/?#]+)$/.exec(String(href || ''));
	return m ? S.cardTypes.get(m[1]) : undefined;
}

function newCard(chId, spec, errs) {
	const ct = cardTypeFromHref(spec?.type?.href);
	if (!ct) {
		errs.push(`card type ${spec?.type?.href ?? '(none)'} is not a card type your operator may assign`);
		return null;
	}
	const card = {
		id: crypto.randomBytes(8).toString('hex'),
		typeId: ct.id,
		number: spec.number !== undefined ? String(spec.number) : '',
		from: spec.from ?? '',
		until: spec.until ?? '',
		state: spec.status?.value ?? 'Active',
	};
	if (spec.issueLevel !== undefined) {
		if (ct.credentialClass === 'mobile') {
			errs.push('a mobile credential has no issue level');
			return null;
		}
		card.issueLevel = Number(spec.issueLevel);
	}
	if (ct.credentialClass === 'mobile') {
		if (spec.invitation) {
			card.invitation = { ...spec.invitation };
			card.invitationStatus = spec.invitation.email ? 'sent' : 'notSent';
		}
	} else if (!card.number) {
		card.number = String(1 + Math.max(0, ...[...S.cardholders.values()].flatMap((c) => c.cards)
			.filter((x) => x.typeId === ct.id).map((x) => Number(x.number) || 0)));
	} else {
		for (const other of S.cardholders.values())
			for (const x of other.cards)
				if (x.typeId === ct.id && x.number === card.number) {
					errs.push(`card number ${card.number} is already in use on card type ${ct.name}`);
					return null;
				}
	}
	return card;
}

// ---- JSON views ---------------------------------------------------------------------------------

function chHref(o, id) { return `${o}/api/cardholders/${id}`; }

function cardJson(o, ch, c) {
	const ct = S.cardTypes.get(c.typeId);
	const now = new Date().toISOString();
	let type = ['active', 'Active'].includes(c.state) ? 'active' : 'inactive';
	if (c.from && c.from > now) type = 'pending';
	if (c.until && c.until < now) type = 'expired';
	const j = {
		href: `${chHref(o, ch.id)}/cards/${c.id}`,
		number: c.number,
		from: c.from,
		until: c.until,
		status: { value: c.state, type },
		type: { href: `${o}/api/card_types/${ct.id}`, name: ct.name },
		credentialClass: ct.credentialClass,
	};
	if (c.issueLevel !== undefined) j.issueLevel = c.issueLevel;
	if (c.invitation) {
		j.invitation = { ...c.invitation, status: c.invitationStatus };
		if (c.invitationStatus === 'sent') j.invitation.href = `https://security.gallagher.invalid/api/invitations/${c.id}`;
	}
	return j;
}

// The detail document (every field the simulator keeps).
function detail(o, ch) {
	const j = { href: chHref(o, ch.id), id: ch.id };
	for (const k of FLAT) if (ch[k] !== undefined && ch[k] !== '') j[k] = ch[k];
	j.authorised = !!ch.authorised;
	j.division = { href: `${o}/api/divisions/${ch.division}` };
	const defs = [];
	for (const [name, value] of Object.entries(ch.pdfs)) {
		const p = S.pdfs.get(name);
		j['@' + name] = value;
		defs.push({ ['@' + name]: { href: `${chHref(o, ch.id)}/personal_data/${p.id}`,
			definition: { href: `${o}/api/personal_data_fields/${p.id}`, name, id: p.id, type: p.type },
			value } });
	}
	if (defs.length) j.personalDataDefinitions = defs;
	if (ch.cards.length) j.cards = ch.cards.map((c) => cardJson(o, ch, c));
	return j;
}

// `fields` as the documentation describes it: a comma list; "defaults" is the
// set the call gives without the parameter; "personalDataFields" gives the
// definitions block and every "@PDF"; "pdf_ID" one PDF.
const SUMMARY = ['href', 'id', 'firstName', 'lastName', 'shortName', 'description', 'authorised'];
function select(full, fieldsParam, defaults) {
	const want = fieldsParam ? fieldsParam.split(',').filter(Boolean) : ['defaults'];
	const out = {};
	for (const f of want) {
		if (f === 'defaults') {
			for (const k of defaults) if (full[k] !== undefined) out[k] = full[k];
		} else if (f === 'personalDataFields') {
			for (const k of Object.keys(full)) if (k.startsWith('@')) out[k] = full[k];
			if (full.personalDataDefinitions) out.personalDataDefinitions = full.personalDataDefinitions;
		} else if (f.startsWith('pdf_')) {
			for (const [name, p] of S.pdfs) if (p.id === f.slice(4) && full['@' + name] !== undefined) out['@' + name] = full['@' + name];
		} else if (f.includes('.')) {
			const [top, sub] = f.split('.', 2);
			if (Array.isArray(full[top])) {
				out[top] = (out[top] || full[top].map(() => ({})));
				full[top].forEach((x, i) => { if (x[sub] !== undefined) out[top][i][sub] = x[sub]; });
			}
		} else if (full[f] !== undefined) out[f] = full[f];
	}
	return out;
}

// ---- changes ------------------------------------------------------------------------------------

function record(type, ch, operator, oldValues, newValues) {
	S.changes.push({ seq: ++S.seq, time: new Date().toISOString(), type, id: ch.id, operator,
		oldValues, newValues });
}

function snapshot(o, ch) { return JSON.parse(JSON.stringify(detail(o, ch))); }

function diff(before, after) {
	const oldV = {}, newV = {};
	for (const k of new Set([...Object.keys(before), ...Object.keys(after)])) {
		if (k === 'personalDataDefinitions' || k === 'href' || k === 'id') continue;
		if (JSON.stringify(before[k]) !== JSON.stringify(after[k])) {
			oldV[k] = before[k] ?? '';
			newV[k] = after[k] ?? '';
		}
	}
	return [oldV, newV];
}

// ---- writes (shared by the API and the control interface) --------------------------------------

function bad(status, message) { const e = new Error(message); e.status = status; return e; }

function applyPatch(o, ch, body, operator) {
	if (!body || typeof body !== 'object' || Array.isArray(body) || Object.keys(body).length === 0)
		throw bad(400, 'No fields have been defined for update');
	const lock = S.locks.get(ch.id);
	if (lock && lock !== operator.name)
		throw bad(409, `The cardholder is locked for editing by ${lock} on workstation CC-WS1`);
	const errs = [];
	const next = JSON.parse(JSON.stringify(ch));
	for (const [k, v] of Object.entries(body)) {
		if (FLAT.includes(k)) {
			if (k === 'authorised') {
				if (typeof v !== 'boolean') errs.push('authorised must be true or false');
				else next.authorised = v;
			} else if (v !== null && typeof v !== 'string') errs.push(`${k} must be a string`);
			else next[k] = v ?? '';
		} else if (k.startsWith('@')) {
			const name = k.slice(1);
			if (!S.pdfs.has(name)) errs.push(`There is no personal data field called '${name}' on this cardholder`);
			else if (v === null) delete next.pdfs[name];
			else if (typeof v !== 'string' && typeof v !== 'number') errs.push(`${k}: a PDF value is a string`);
			else next.pdfs[name] = String(v);
		} else if (k === 'division') {
			const m = /\/api\/divisions\/([^/?#]+)$/.exec(String(v?.href || ''));
			if (!m) errs.push('division needs an href');
			else next.division = m[1];
		} else if (k === 'cards') {
			if (typeof v !== 'object' || v === null || Array.isArray(v)) { errs.push('cards must be an object with add, update and remove arrays'); continue; }
			for (const a of Object.keys(v)) if (!['add', 'update', 'remove'].includes(a)) errs.push(`cards.${a}: only add, update and remove are allowed`);
			const hrefId = (h) => { const m = new RegExp(`/api/cardholders/${ch.id}/cards/([^/?#]+)$`).exec(String(h || '')); return m ? m[1] : null; };
			const upd = (v.update || []).map((u) => hrefId(u.href));
			const rem = (v.remove || []).map((u) => hrefId(u.href));
			if (upd.some((x) => x && rem.includes(x))) errs.push('the same card is in both update and remove');
			(v.remove || []).forEach((r, i) => {
				const idx = next.cards.findIndex((c) => c.id === rem[i]);
				if (idx < 0) errs.push(`card ${r.href} is not on this cardholder`);
				else next.cards.splice(idx, 1);
			});
			(v.update || []).forEach((u, i) => {
				const c = next.cards.find((x) => x.id === upd[i]);
				if (!c) { errs.push(`card ${u.href} is not on this cardholder`); return; }
				if (u.type) errs.push('you cannot change the type of a card');
				if (u.number !== undefined && String(u.number) !== c.number) errs.push('you cannot change the number of a card');
				if (u.invitation) errs.push('you cannot modify the invitation of an existing credential');
				if (u.from !== undefined) c.from = u.from;
				if (u.until !== undefined) c.until = u.until;
				if (u.status?.value) c.state = u.status.value;
				if (u.issueLevel !== undefined) c.issueLevel = Number(u.issueLevel);
			});
			for (const a of v.add || []) {
				if (a.href) errs.push('a card to add has no href');
				const c = newCard(ch.id, a, errs);
				if (c) next.cards.push(c);
			}
		} else if (k === 'personalDataDefinitions') {
			// notification flags only; nothing the simulator keeps
		} else {
			errs.push(`${k} is not a field you can set on a cardholder`);
		}
	}
	if (errs.length) throw bad(400, errs.join('; '));
	const before = snapshot(o, ch);
	Object.assign(ch, next);
	const [oldV, newV] = diff(before, snapshot(o, ch));
	if (Object.keys(newV).length) record('update', ch, operator, oldV, newV);
}

function create(o, body, operator) {
	if (!body?.division?.href) throw bad(400, 'A cardholder needs a division');
	if (!body.firstName && !body.lastName) throw bad(400, 'A cardholder needs a first or a last name');
	const ch = { id: String(++S.nextId), authorised: false, pdfs: {}, cards: [], division: '2' };
	const { cards, ...rest } = body;
	const tmp = { ...ch };
	S.cardholders.set(ch.id, ch);
	try {
		applyPatch(o, ch, { ...rest, ...(Array.isArray(cards) ? { cards: { add: cards } } : {}) }, operator);
	} catch (e) {
		S.cardholders.delete(ch.id);
		throw e;
	}
	// a create is one "add" change, not an add and an update
	const last = S.changes[S.changes.length - 1];
	if (last && last.id === ch.id && last.type === 'update') S.changes.pop();
	record('add', ch, operator, {}, snapshot(o, ch));
	void tmp;
	return ch;
}

function remove(o, ch, operator) {
	const lock = S.locks.get(ch.id);
	if (lock && lock !== operator.name)
		throw bad(409, `The cardholder is locked for editing by ${lock} on workstation CC-WS1`);
	const before = snapshot(o, ch);
	S.cardholders.delete(ch.id);
	record('remove', ch, operator, before, {});
}

function seed(body) {
	for (const t of body.cardTypes || []) S.cardTypes.set(String(t.id), { id: String(t.id), name: t.name, credentialClass: t.credentialClass || 'card' });
	for (const p of body.pdfs || []) S.pdfs.set(p.name, { id: String(p.id), name: p.name, type: p.type || 'string' });
	for (const c of body.cardholders || []) {
		const id = String(c.id ?? ++S.nextId);
		S.nextId = Math.max(S.nextId, Number(id) || 0);
		const ch = { id, firstName: c.firstName ?? '', lastName: c.lastName ?? '', shortName: c.shortName ?? '',
			description: c.description ?? '', authorised: c.authorised ?? true, division: String(c.division ?? '2'),
			pdfs: {}, cards: [] };
		for (const [k, v] of Object.entries(c)) if (k.startsWith('@')) ch.pdfs[k.slice(1)] = String(v);
		const errs = [];
		for (const spec of c.cards || []) {
			const card = newCard(id, spec, errs);
			if (card) ch.cards.push(card);
		}
		if (errs.length) throw bad(400, errs.join('; '));
		S.cardholders.set(id, ch);
	}
}

// ---- HTTP ---------------------------------------------------------------------------------------

function send(res, status, body, headers = {}) {
	const text = body === undefined ? '' : JSON.stringify(body);
	res.writeHead(status, { ...(text ? { 'Content-Type': 'application/json; charset=utf-8' } : {}), ...headers });
	res.end(text);
}

function readBody(req) {
	return new Promise((resolve, reject) => {
		const parts = [];
		let n = 0;
		req.on('data', (d) => { n += d.length; if (n > 4 << 20) reject(bad(413, 'request too large')); else parts.push(d); });
		req.on('end', () => {
			const t = Buffer.concat(parts).toString('utf8');
			if (!t) return resolve(undefined);
			try { resolve(JSON.parse(t)); } catch { reject(bad(400, 'Invalid cardholder: the body is not valid JSON')); }
		});
		req.on('error', reject);
	});
}

// Authentication as the documentation's request process describes it:
// API key, then the pinned client certificate, then the licence.
function authenticate(req) {
	const h = req.headers.authorization || '';
	const m = /^GGL-API-KEY (.+)$/.exec(h);
	if (!m) return { status: 401, message: 'A REST connection was attempted without an API key: send Authorization: GGL-API-KEY <key>' };
	if (!opt.keys.has(m[1].trim())) return { status: 401, message: 'A REST connection was attempted with an invalid API key' };
	if (opt.pin) {
		const cert = req.socket.getPeerCertificate ? req.socket.getPeerCertificate() : null;
		const fp = cert && cert.fingerprint ? cert.fingerprint.replace(/:/g, '').toUpperCase() : '';
		if (fp !== opt.pin) return { status: 401, message: 'A REST connection was attempted with an invalid client certificate' };
	}
	if (!opt.licence) return { status: 403, message: 'Feature not licensed' };
	return { privs: opt.keys.get(m[1].trim()) };
}

async function api(req, res, url, o) {
	const auth = authenticate(req);
	if (auth.status) return send(res, auth.status, { message: auth.message });
	const canView = auth.privs !== 'none', canEdit = auth.privs === 'edit';
	const p = url.pathname.replace(/\/+$/, '');
	const q = url.searchParams;
	let m;

	if (p === '/api' && req.method === 'GET') {
		return send(res, 200, { version: '9.30.0.0-simulator', features: {
			cardholders: { cardholders: { href: `${o}/api/cardholders` }, changes: { href: `${o}/api/cardholders/changes` } },
			cardTypes: { cardTypes: { href: `${o}/api/card_types` }, assign: { href: `${o}/api/card_types/assign` } },
			personalDataFields: { personalDataFields: { href: `${o}/api/personal_data_fields` } } } });
	}
	if (p === '/api/cardholders/changes' && req.method === 'GET') {
		const top = Math.min(1000, Math.max(1, Number(q.get('top')) || 1000));
		const rest = new URLSearchParams(q);
		rest.delete('pos');
		const link = (pos) => { const u = new URLSearchParams(rest); u.set('pos', String(pos)); return `${o}/api/cardholders/changes?${u}`; };
		if (!q.has('pos')) return send(res, 200, { results: [], next: { href: link(S.seq) } });
		const pos = Number(q.get('pos'));
		if (!Number.isInteger(pos) || pos < 0) return send(res, 400, { message: 'pos is not one of ours: take the next link from the previous answer' });
		const fields = q.get('fields') ? q.get('fields').split(',') : ['defaults'];
		const has = (f) => fields.includes(f) || (f !== 'cardholder' && fields.includes('defaults') && ['href', 'time', 'type', 'item', 'oldValues', 'newValues'].includes(f));
		const chFields = fields.filter((f) => f.startsWith('cardholder.')).map((f) => f.slice(11));
		const filter = q.get('filter') ? q.get('filter').split(',') : null;
		const out = [];
		let last = pos;
		for (const c of S.changes) {
			if (c.seq <= pos) continue;
			if (out.length >= top) break;
			last = c.seq;
			if (!canView) continue;
			if (filter && !filter.includes('defaults') && c.type === 'update' &&
			    !Object.keys(c.newValues).some((k) => filter.includes(k) || filter.some((f) => f.startsWith(k + '.')) || (k.startsWith('@') && filter.includes('personalDataFields')))) continue;
			const item = {};
			if (has('href')) item.href = `${o}/api/cardholders/changes/${c.seq.toString(16)}`;
			if (has('time')) item.time = c.time;
			if (has('type')) item.type = c.type;
			if (has('item')) item.item = { href: chHref(o, c.id) };
			if (fields.includes('operator')) item.operator = { name: c.operator.name, href: `${o}/api/items/${c.operator.id}` };
			if (has('oldValues')) item.oldValues = c.oldValues;
			if (has('newValues')) item.newValues = c.newValues;
			const ch = S.cardholders.get(c.id);
			if (ch && (fields.includes('cardholder') || chFields.length)) {
				const full = detail(o, ch);
				item.cardholder = fields.includes('cardholder') ? full : select(full, chFields.join(','), SUMMARY);
			}
			out.push(item);
		}
		// the link moves to the last change examined even when none passed
		if (out.length === 0 && last === pos) last = S.seq;
		return send(res, 200, { results: out, next: { href: link(last) } });
	}
	if (p === '/api/cardholders' && req.method === 'GET') {
		const top = Math.max(1, Number(q.get('top')) || 1000);
		const sort = q.get('sort') || 'name';
		let list = canView ? [...S.cardholders.values()] : [];
		const byId = (a, b) => Number(a.id) - Number(b.id) || a.id.localeCompare(b.id);
		const byName = (a, b) => `${a.lastName}, ${a.firstName}`.localeCompare(`${b.lastName}, ${b.firstName}`) || byId(a, b);
		list.sort(sort.endsWith('name') ? byName : byId);
		if (sort.startsWith('-')) list.reverse();
		const name = q.get('name');
		if (name) {
			const exact = /^".*"$/.test(name), n = name.replace(/^"|"$/g, '').toLowerCase();
			list = list.filter((c) => [c.firstName, c.lastName, `${c.lastName}, ${c.firstName}`]
				.some((s) => (exact ? s.toLowerCase() === n : s.toLowerCase().includes(n))));
		}
		const skip = Math.max(0, Number(q.get('skip')) || 0);
		const page = list.slice(skip, skip + top);
		const body = { results: page.map((c) => select(detail(o, c), q.get('fields'), SUMMARY)) };
		if (skip + top < list.length) {
			const u = new URLSearchParams(q);
			u.set('skip', String(skip + top));
			body.next = { href: `${o}/api/cardholders?${u}` };
		}
		return send(res, 200, body);
	}
	if (p === '/api/cardholders' && req.method === 'POST') {
		if (!canEdit) return send(res, 403, { message: 'Your operator does not have a privilege that allows creating cardholders' });
		const ch = create(o, await readBody(req), REST_OPERATOR);
		return send(res, 201, undefined, { Location: chHref(o, ch.id) });
	}
	if ((m = /^\/api\/cardholders\/([^/]+)$/.exec(p))) {
		const ch = S.cardholders.get(decodeURIComponent(m[1]));
		if (req.method === 'GET') {
			if (!ch || !canView) return send(res, 404, { message: 'That is not the URL of a cardholder, or your operator may not view it' });
			return send(res, 200, select(detail(o, ch), q.get('fields'), Object.keys(detail(o, ch))));
		}
		if (req.method === 'PATCH') {
			if (!canEdit) return send(res, 403, { message: 'Your operator does not have the privilege to modify that cardholder (Edit Cardholders)' });
			const body = await readBody(req);
			if (!ch) return send(res, 404, { message: 'That is not the URL of a cardholder, or your operator may not view it' });
			applyPatch(o, ch, body, REST_OPERATOR);
			return send(res, 204);
		}
		if (req.method === 'DELETE') {
			if (!canEdit) return send(res, 403, { message: 'Your operator does not have permissions to delete that cardholder' });
			if (!ch) return send(res, 404, { message: 'There is no such cardholder' });
			remove(o, ch, REST_OPERATOR);
			return send(res, 204);
		}
		return send(res, 405, { message: `${req.method} is not supported here` });
	}
	if ((m = /^\/api\/cardholders\/([^/]+)\/cards\/([^/]+)$/.exec(p)) && req.method === 'DELETE') {
		if (!canEdit) return send(res, 403, { message: 'Your operator does not have a privilege that allows editing that cardholder' });
		const ch = S.cardholders.get(m[1]);
		if (!ch || !ch.cards.some((c) => c.id === m[2])) return send(res, 404, { message: 'That card is not on that cardholder' });
		applyPatch(o, ch, { cards: { remove: [{ href: `${chHref(o, ch.id)}/cards/${m[2]}` }] } }, REST_OPERATOR);
		return send(res, 204);
	}
	if ((p === '/api/card_types' || p === '/api/card_types/assign') && req.method === 'GET') {
		const results = !canView ? [] : [...S.cardTypes.values()].map((t) => ({ href: `${o}/api/card_types/${t.id}`, id: t.id, name: t.name, credentialClass: t.credentialClass }));
		return send(res, 200, { results });
	}
	if (p === '/api/personal_data_fields' && req.method === 'GET') {
		const results = [...S.pdfs.values()].map((d) => ({ href: `${o}/api/personal_data_fields/${d.id}`, id: d.id, name: d.name, type: d.type }));
		return send(res, 200, { results });
	}
	return send(res, 404, { message: `${req.method} ${p}: not found` });
}

async function control(req, res, url, o) {
	const p = url.pathname;
	let m;
	if (p === '/__sim/seed' && req.method === 'POST') { seed(await readBody(req)); return send(res, 200, { ok: true }); }
	if (p === '/__sim/state' && req.method === 'GET')
		return send(res, 200, { cardholders: [...S.cardholders.values()].map((c) => detail(o, c)), changes: S.changes.length, requests: S.requests });
	if (p === '/__sim/cardholders' && req.method === 'POST') {
		const ch = create(o, await readBody(req), WS_OPERATOR);
		return send(res, 201, { href: chHref(o, ch.id), id: ch.id });
	}
	if ((m = /^\/__sim\/cardholders\/([^/]+)$/.exec(p))) {
		const ch = S.cardholders.get(m[1]);
		if (!ch) return send(res, 404, { message: 'no such cardholder' });
		if (req.method === 'PATCH') { applyPatch(o, ch, await readBody(req), WS_OPERATOR); return send(res, 204); }
		if (req.method === 'DELETE') { remove(o, ch, WS_OPERATOR); return send(res, 204); }
	}
	if ((m = /^\/__sim\/lock\/([^/]+)$/.exec(p))) {
		if (req.method === 'POST') { S.locks.set(m[1], (await readBody(req))?.operator || 'Workstation operator'); return send(res, 204); }
		if (req.method === 'DELETE') { S.locks.delete(m[1]); return send(res, 204); }
	}
	return send(res, 404, { message: 'no such control call' });
}

async function handle(req, res) {
	const proto = opt.tlsCert ? 'https' : 'http';
	const o = `${proto}://${req.headers.host || `${opt.host}:${opt.port}`}`;
	const url = new URL(req.url, o);
	try {
		if (url.pathname.startsWith('/__sim/')) return await control(req, res, url, o);
		await api(req, res, url, o);
	} catch (e) {
		send(res, e.status || 500, { message: e.status ? e.message : `internal error: ${e.message}` });
	} finally {
		if (url.pathname.startsWith('/api')) {
			S.requests.push({ method: req.method, path: url.pathname + url.search, status: res.statusCode });
			if (S.requests.length > 500) S.requests.shift();
		}
	}
}

const server = opt.tlsCert
	? https.createServer({ cert: fs.readFileSync(opt.tlsCert), key: fs.readFileSync(opt.tlsKey),
		requestCert: true, rejectUnauthorized: false }, handle)
	: http.createServer(handle);
server.keepAliveTimeout = 30000;
server.listen(opt.port, opt.host, () => {
	process.stdout.write(`gallagher-sim (a simulator, not Command Centre) on ${opt.tlsCert ? 'https' : 'http'}://${opt.host}:${opt.port}\n`);
});
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => server.close(() => process.exit(0)));
