#!/usr/bin/env python3
"""OpenStack API stand-in: Keystone v3, Glance v2, Nova os-keypairs, Neutron security groups.

Just enough of each API for devcluster's post-stack steps, run by the REAL python-openstackclient
(and openstacksdk / keystoneauth1) against it. Python 3 standard library only, so that it runs on the
test host and on a Debian guest. State lives in memory; GET /__standin__/state returns it as JSON,
and GET /__standin__/requests the requests served (method, path, status), for tests to assert on.

Every body, status and header below cites where the upstream server makes it. Upstream trees read:
openstack/keystone 30ef2ffa6 (2026-07-17), openstack/glance c76abb08e (2026-07-22),
openstack/nova 00a030403f (2026-08-21), openstack/neutron 2131d26f73 (2026-08-07),
openstack/neutron-lib 6cd671a8 (2026-06-29). What no upstream file was read for says so
("not read"). Paths are those DevStack registers in the catalog (devstack lib/keystone:89,
lib/glance:139, lib/nova:395-407, lib/neutron:487-499): everything on one host and port,
/identity, /image, /compute/v2.1, /networking.

Usage: server.py --listen ADDR --port PORT --public-host HOST[:PORT] --password PW [--ready-file F]
"""

import argparse
import base64
import hashlib
import json
import re
import sys
import threading
import uuid
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

LOCK = threading.Lock()


def now_iso():
    return datetime.now(timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')


def new_id():
    return uuid.uuid4().hex


class State:
    """Users, projects, tokens, images, keypairs, security groups: what a fresh DevStack has."""

    def __init__(self, password):
        self.password = password
        self.domain = {'id': 'default', 'name': 'Default'}
        # DevStack's accounts: lib/keystone create_keystone_accounts (admin/admin),
        # functions-common/stack.sh create "demo" and "alt_demo" users in projects of the same name.
        self.projects = {}
        self.users = {}
        for name in ('admin', 'demo', 'alt_demo'):
            pid = new_id()
            self.projects[pid] = {'id': pid, 'name': name, 'domain_id': 'default', 'enabled': True,
                                  'description': '', 'is_domain': False, 'parent_id': 'default',
                                  'tags': [], 'options': {}}
            uid = new_id()
            self.users[uid] = {'id': uid, 'name': name, 'domain_id': 'default', 'enabled': True,
                               'password_expires_at': None, 'options': {},
                               'project': pid, 'roles': ['admin', 'member', 'reader'] if name == 'admin' else ['member', 'reader']}
        self.tokens = {}
        self.images = {}
        self.image_data = {}
        self.keypairs = {}  # user id -> name -> keypair
        self.groups = {}
        self.rules = {}
        self.requests = []
        for pid in self.projects:
            self.default_group(pid)

    def default_group(self, project_id):
        """neutron/db/securitygroups_db.py _ensure_default_security_group (1180) creates "default" with
        the rules of the template (_create_rules_from_template, 666), seeded by
        neutron/db/migration/alembic_migrations/versions/2023.2/expand/c33da356b165_security_group_default_rules.py:43-77:
        egress IPv4, egress IPv6, ingress IPv4 and IPv6 from the group itself (PARENT)."""
        gid = new_id()
        self.groups[gid] = {'id': gid, 'name': 'default', 'stateful': True, 'tenant_id': project_id,
                            'project_id': project_id, 'description': 'Default security group',
                            'shared': False, 'tags': [], 'created_at': now_iso(), 'updated_at': now_iso(),
                            'revision_number': 1}
        template = [('egress', 'IPv4', None), ('egress', 'IPv6', None), ('ingress', 'IPv4', gid), ('ingress', 'IPv6', gid)]
        for direction, ethertype, remote in template:
            self.add_rule({'security_group_id': gid, 'direction': direction, 'ethertype': ethertype,
                           'remote_group_id': remote, 'project_id': project_id})
        return gid

    def add_rule(self, attrs):
        """Shape of neutron/db/securitygroups_db.py _make_security_group_rule_dict (935-949)."""
        rid = new_id()
        rule = {'id': rid, 'project_id': attrs['project_id'], 'tenant_id': attrs['project_id'],
                'security_group_id': attrs['security_group_id'], 'ethertype': attrs['ethertype'],
                'direction': attrs['direction'], 'protocol': attrs.get('protocol'),
                'port_range_min': attrs.get('port_range_min'), 'port_range_max': attrs.get('port_range_max'),
                'remote_ip_prefix': attrs.get('remote_ip_prefix'), 'remote_address_group_id': None,
                'normalized_cidr': attrs.get('remote_ip_prefix'), 'remote_group_id': attrs.get('remote_group_id'),
                'description': attrs.get('description', ''), 'tags': [], 'revision_number': 0,
                'created_at': now_iso(), 'updated_at': now_iso(), 'belongs_to_default_sg': True}
        self.rules[rid] = rule
        return rule


class ApiError(Exception):
    def __init__(self, status, body, headers=None, content_type='application/json'):
        super().__init__(status)
        self.status = status
        self.body = body
        self.headers = headers or {}
        self.content_type = content_type


# --- error bodies, one per service ---------------------------------------------------------

def keystone_error(code, title, message):
    """keystone/server/flask/request_processing/middleware/auth_context.py render_exception (201-230):
    {"error": {"code", "title", "message"}}; a 401 adds WWW-Authenticate (227)."""
    return ApiError(code, {'error': {'code': code, 'title': title, 'message': message}})


def nova_error(code, message):
    """nova/api/openstack/wsgi.py Fault (879-915): {fault_name: {"code", "message"}} with the names of
    _fault_names (879-890)."""
    names = {400: 'badRequest', 401: 'unauthorized', 403: 'forbidden', 404: 'itemNotFound', 409: 'conflictingRequest'}
    return ApiError(code, {names.get(code, 'computeFault'): {'code': code, 'message': message}})


def neutron_error(code, kind, message):
    """neutron/api/api_common.py get_exception_data (520-532): {"NeutronError": {"type": exception class
    name, "message", "detail": ""}}; the status from neutron-lib neutron_lib/api/faults.py FAULT_MAP
    (InUse -> 409 at line 22, NotFound -> 404, InvalidInput -> 400)."""
    return ApiError(code, {'NeutronError': {'type': kind, 'message': message, 'detail': ''}})


def webob_error(code, title, explanation):
    """glance raises webob.exc.HTTP* with an explanation (e.g. glance/api/v2/images.py show:
    HTTPNotFound(explanation=e.msg)); WebOb renders it as text/plain "CODE TITLE\\n\\nEXPLANATION\\n\\n   "
    for a non-HTML client (webob/exc.py WSGIHTTPException.plain_body; WebOb not read here, shape taken
    from its documented plain template)."""
    return ApiError(code, f'{code} {title}\n\n{explanation}\n\n   ', content_type='text/plain; charset=UTF-8')


# --- Keystone v3 ---------------------------------------------------------------------------

def catalog(base):
    """keystone/catalog/backends/sql.py get_v3_catalog (make_v3_endpoints 305-322, make_v3_service
    331-335): services {"endpoints": [{id, interface, region, region_id, url}], "id", "type", "name"};
    URLs as DevStack registers them (lib/keystone:89 KEYSTONE_SERVICE_URI, lib/glance:139 GLANCE_URL,
    lib/nova:404-407 "$nova_api_url/v2.1", lib/neutron:487-499 "$Q_PROTOCOL://$SERVICE_HOST/networking")."""
    services = [('identity', 'keystone', f'{base}/identity'), ('image', 'glance', f'{base}/image'),
                ('compute', 'nova', f'{base}/compute/v2.1'), ('network', 'neutron', f'{base}/networking')]
    out = []
    for kind, name, url in services:
        eps = [{'id': new_id(), 'interface': iface, 'region': 'RegionOne', 'region_id': 'RegionOne', 'url': url}
               for iface in ('public',)]
        out.append({'endpoints': eps, 'id': new_id(), 'type': kind, 'name': name})
    return out


def keystone(h, method, path, query, body):
    st = h.server.state
    base = h.server.public_base
    if path in ('', '/'):
        # keystone/api/discovery.py get_versions (57-85): 300 Multiple Choices, Location header.
        versions = {'versions': {'values': [version_v3(base)]}}
        return 300, versions, {'Location': f'{base}/identity/v3/'}
    if path in ('/v3', '/v3/'):
        # keystone/api/discovery.py get_version_v3 (88-105): 200 {"version": ...}.
        return 200, {'version': version_v3(base)}, {}
    if path == '/v3/auth/tokens' and method == 'POST':
        return issue_token(st, base, body)
    token = h.auth_token()
    if path == '/v3/auth/tokens' and method == 'GET':
        # keystone/api/auth.py AuthTokenResource.get (~290-318): 200, X-Subject-Token echoed.
        subject = h.headers.get('X-Subject-Token')
        if subject not in st.tokens:
            raise keystone_error(404, 'Not Found', f'Could not find token: {subject}.')
        return 200, st.tokens[subject]['body'], {'X-Subject-Token': subject}
    m = re.fullmatch(r'/v3/(projects|users)(?:/([^/]+))?', path)
    if m and method == 'GET':
        coll = st.projects if m.group(1) == 'projects' else st.users
        key = 'project' if m.group(1) == 'projects' else 'user'
        if m.group(2):
            # keystone/exception.py ProjectNotFound (511-512) / UserNotFound (523-524).
            item = coll.get(m.group(2))
            if not item:
                raise keystone_error(404, 'Not Found', f'Could not find {key}: {m.group(2)}.')
            return 200, {key: public_identity(item, base, m.group(1))}, {}
        items = [i for i in coll.values() if all(str(i.get(k)) == v[0] for k, v in query.items() if k in ('name', 'domain_id', 'enabled'))]
        # keystone/server/flask/common.py ResourceBase.wrap_collection: {"<collection>": [...], "links": {...}} (not read line by line).
        return 200, {m.group(1): [public_identity(i, base, m.group(1)) for i in items],
                     'links': {'self': f'{base}/identity/v3/{m.group(1)}', 'previous': None, 'next': None}}, {}
    if token is None:
        raise unauthorized(base)
    raise keystone_error(404, 'Not Found', 'The resource could not be found.')


def version_v3(base):
    """keystone/api/discovery.py _get_versions_list (28-39)."""
    return {'id': 'v3.14', 'status': 'stable', 'updated': '2020-04-07T00:00:00Z',
            'links': [{'rel': 'self', 'href': f'{base}/identity/v3/'}],
            'media-types': [{'base': 'application/json', 'type': 'application/vnd.openstack.identity-v3+json'}]}


def public_identity(item, base, coll):
    out = {k: v for k, v in item.items() if k not in ('project', 'roles')}
    out['links'] = {'self': f'{base}/identity/v3/{coll}/{item["id"]}'}
    return out


def unauthorized(base):
    err = keystone_error(401, 'Unauthorized', 'The request you have made requires authentication.')
    # keystone/exception.py Unauthorized (314-317); WWW-Authenticate from render_exception (227).
    err.headers['WWW-Authenticate'] = f'Keystone uri="{base}/identity"'
    return err


def issue_token(st, base, body):
    """keystone/api/auth.py AuthTokenResource.post (320-336): 201 Created, X-Subject-Token header, body
    from keystone/common/render_token.py render_token_response_from_model (20-104) for a project-scoped
    password token."""
    try:
        ident = body['auth']['identity']
        pw = ident['password']['user']
        scope = body['auth'].get('scope', {}).get('project')
    except (KeyError, TypeError):
        raise keystone_error(400, 'Bad Request', 'Expecting to find identity in auth.')
    user = next((u for u in st.users.values() if u['id'] == pw.get('id') or u['name'] == pw.get('name')), None)
    if user is None or pw.get('password') != st.password:
        # keystone/api/_shared/authentication.py -> identity core raises AssertionError, turned into
        # Unauthorized "The request you have made requires authentication." (exception.py 314-317).
        raise unauthorized(base)
    project = None
    if scope:
        project = next((p for p in st.projects.values() if p['id'] == scope.get('id') or p['name'] == scope.get('name')), None)
        if project is None:
            raise unauthorized(base)
        if project['id'] != user['project'] and 'admin' not in user['roles']:
            raise unauthorized(base)
    token_id = 'gAAAA' + new_id() + new_id()
    issued = datetime.now(timezone.utc)
    roles = [{'id': hashlib.md5(r.encode()).hexdigest(), 'name': r} for r in user['roles']]
    tok = {'methods': ['password'],
           'user': {'domain': dict(st.domain), 'id': user['id'], 'name': user['name'], 'password_expires_at': None},
           'audit_ids': [base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip('=')[:22]],
           'expires_at': (issued + timedelta(hours=1)).strftime('%Y-%m-%dT%H:%M:%S.000000Z'),
           'issued_at': issued.strftime('%Y-%m-%dT%H:%M:%S.000000Z')}
    if project:
        tok['project'] = {'domain': dict(st.domain), 'id': project['id'], 'name': project['name']}
        tok['is_domain'] = False
        tok['roles'] = roles
        tok['is_admin_project'] = project['name'] == 'admin'
        tok['catalog'] = catalog(base)
    body_out = {'token': tok}
    st.tokens[token_id] = {'user': user, 'project': project, 'body': body_out}
    return 201, body_out, {'X-Subject-Token': token_id}


# --- Glance v2 -----------------------------------------------------------------------------

GLANCE_DISK_FORMATS = ['ami', 'ari', 'aki', 'vhd', 'vhdx', 'vmdk', 'raw', 'qcow2', 'vdi', 'iso', 'ploop']
GLANCE_CONTAINER_FORMATS = ['ami', 'ari', 'aki', 'bare', 'ovf', 'ova', 'docker', 'compressed']
GLANCE_CORE = ('name', 'disk_format', 'container_format', 'visibility', 'size', 'virtual_size', 'status',
               'checksum', 'protected', 'min_ram', 'min_disk', 'owner', 'os_hidden', 'os_hash_algo', 'os_hash_value')


def glance_view(img):
    """glance/api/v2/images.py ResponseSerializer._format_image (1725-1793): extra properties, the core
    attributes, id, created_at, updated_at, tags, self, file, schema."""
    out = dict(img['extra'])
    for k in GLANCE_CORE:
        out[k] = img[k]
    out.update({'id': img['id'], 'created_at': img['created_at'], 'updated_at': img['updated_at'],
                'tags': list(img['tags']), 'self': f'/v2/images/{img["id"]}', 'file': f'/v2/images/{img["id"]}/file',
                'schema': '/v2/schemas/image'})
    return out


def glance(h, method, path, query, raw):
    st = h.server.state
    base = h.server.public_base
    if path in ('', '/') and method == 'GET':
        # glance/api/versions.py Controller.index (61-129): 300 unless /versions; href ".../v2/"
        # (build_version_object 63-76), list as for no image cache and no multi-store (83-120).
        ids = ['2.15', '2.9', '2.17', '2.7', '2.6', '2.5', '2.4', '2.3', '2.2', '2.1', '2.0']
        versions = [{'id': f'v{v}', 'status': 'CURRENT' if v == '2.17' else 'SUPPORTED',
                     'links': [{'rel': 'self', 'href': f'{base}/image/v2/'}]} for v in ids]
        return 300, {'versions': versions}, {}
    token = h.require_token()
    project = token['project']['id']
    is_admin = 'admin' in token['user']['roles']
    if path == '/v2/images' and method == 'GET':
        # glance/api/v2/images.py ImagesController.index (513-) with filters; serializer index (1824-1840).
        filters = {k: v[0] for k, v in query.items() if k not in ('limit', 'marker', 'sort', 'sort_key', 'sort_dir', 'member_status')}
        images = [i for i in st.images.values() if is_admin or i['visibility'] == 'public' or i['owner'] == project]
        for k, v in filters.items():
            if k in GLANCE_CORE or k == 'id':
                images = [i for i in images if str(i.get(k)) == v or (k == 'id' and i['id'] == v)]
        body = {'images': [glance_view(i) for i in images], 'first': '/v2/images', 'schema': '/v2/schemas/images'}
        if query:
            body['first'] = '/v2/images?' + urlsplit(h.path).query
        return 200, body, {}
    if path == '/v2/images' and method == 'POST':
        return glance_create(st, json.loads(raw or b'{}'), project)
    m = re.fullmatch(r'/v2/images/([^/]+)(/file)?', path)
    if m:
        img = st.images.get(m.group(1))
        visible = img is not None and (is_admin or img['visibility'] == 'public' or img['owner'] == project)
        if not visible:
            # glance/api/v2/images.py show (583-591): NotFound -> HTTPNotFound(explanation=e.msg), the
            # message glance/db/__init__.py ImageRepo.get gives ImageNotFound: "No image found with ID %s".
            raise webob_error(404, 'Not Found', f'No image found with ID {m.group(1)}')
        if m.group(2) and method == 'PUT':
            # glance/api/v2/image_data.py upload (108-) stores the data; ResponseSerializer.upload (685-686): 204.
            if img['status'] != 'queued':
                raise webob_error(409, 'Conflict', f'Image status transition from {img["status"]} to saving is not allowed')
            st.image_data[img['id']] = raw
            img.update({'status': 'active', 'size': len(raw), 'checksum': hashlib.md5(raw).hexdigest(),
                        'os_hash_algo': 'sha512', 'os_hash_value': hashlib.sha512(raw).hexdigest(),
                        'updated_at': now_iso()})
            return 204, None, {}
        if not m.group(2) and method == 'GET':
            return 200, glance_view(img), {}
    raise webob_error(404, 'Not Found', 'The resource could not be found.')


def glance_create(st, body, project):
    """glance/api/v2/images.py RequestDeserializer.create (1296-) splits core and extra properties;
    ImagesController.create (94-); ResponseSerializer.create (1798-1812): 201, Location = the image's
    href, body as show. A new image is "queued" with size null until data arrives."""
    for key, allowed in (('disk_format', GLANCE_DISK_FORMATS), ('container_format', GLANCE_CONTAINER_FORMATS)):
        if body.get(key) is not None and body[key] not in allowed:
            # glance's schema validation (glance/schema.py via images RequestDeserializer) -> 400.
            raise webob_error(400, 'Bad Request', f"Provided object does not match schema 'image': '{body[key]}' is not one of {allowed}")
    iid = body.get('id') or str(uuid.uuid4())
    ts = now_iso()
    img = {'id': iid, 'name': body.get('name'), 'disk_format': body.get('disk_format'),
           'container_format': body.get('container_format'), 'visibility': body.get('visibility', 'shared'),
           'size': None, 'virtual_size': None, 'status': 'queued', 'checksum': None,
           'protected': bool(body.get('protected', False)), 'min_ram': body.get('min_ram', 0),
           'min_disk': body.get('min_disk', 0), 'owner': project, 'os_hidden': bool(body.get('os_hidden', False)),
           'os_hash_algo': None, 'os_hash_value': None, 'created_at': ts, 'updated_at': ts,
           'tags': body.get('tags', []),
           'extra': {k: v for k, v in body.items() if k not in GLANCE_CORE and k not in ('id', 'tags')}}
    st.images[iid] = img
    return 201, glance_view(img), {'Location': f'{st_base(st)}/image/v2/images/{iid}'}


def st_base(st):
    return st.public_base


# --- Nova ----------------------------------------------------------------------------------

NOVA_MAX = '2.104'  # nova/api/openstack/api_version_request.py _MAX_API_VERSION (300)
NOVA_MIN = '2.1'  # _MIN_API_VERSION (299)


def nova_version(base):
    """nova/api/openstack/compute/versions.py VERSIONS["v2.1"] (54-71), rendered by
    views/versions.py build_version (66-72), a "self" link first."""
    return {'id': 'v2.1', 'status': 'CURRENT', 'version': NOVA_MAX, 'min_version': NOVA_MIN,
            'updated': '2013-07-23T11:33:21Z',
            'links': [{'rel': 'self', 'href': f'{base}/compute/v2.1/'},
                      {'rel': 'describedby', 'type': 'text/html', 'href': 'http://docs.openstack.org/'}],
            'media-types': [{'base': 'application/json', 'type': 'application/vnd.openstack.compute+json;version=2.1'}]}


def parse_microversion(h):
    """nova/api/openstack/wsgi.py (62-63, 153): OpenStack-API-Version "compute X.Y" or the legacy
    X-OpenStack-Nova-API-Version; "latest" is the maximum; none is the minimum (DEFAULT_API_VERSION 301)."""
    value = None
    header = h.headers.get('OpenStack-API-Version')
    if header:
        parts = header.split()
        if len(parts) == 2 and parts[0].lower() == 'compute':
            value = parts[1]
    value = value or h.headers.get('X-OpenStack-Nova-API-Version')
    if not value:
        return (2, 1)
    if value == 'latest':
        return tuple(int(x) for x in NOVA_MAX.split('.'))
    major, minor = (int(x) for x in value.split('.'))
    return (major, minor)


def fingerprint(public_key):
    """nova/crypto.py generate_fingerprint (68-78): md5 of the decoded key, colon separated; a key
    that does not parse is InvalidKeypair (400)."""
    try:
        blob = base64.b64decode(public_key.split(' ')[1], validate=True)
    except Exception:
        raise nova_error(400, 'Keypair data is invalid: failed to generate fingerprint')
    raw = hashlib.md5(blob).hexdigest()
    return ':'.join(a + b for a, b in zip(raw[::2], raw[1::2]))


def nova(h, method, path, query, body):
    st = h.server.state
    base = h.server.public_base
    if path in ('', '/'):
        # compute/versions.py Versions.index (86-91) -> views/versions.py build_versions (51-64):
        # 200 {"versions": [...]}, VERSIONS v2.0 (34-53) and v2.1 (54-71), self links from generate_href.
        return 200, {'versions': [
            {'id': 'v2.0', 'status': 'DEPRECATED', 'version': '', 'min_version': '', 'updated': '2025-07-04T12:00:00Z',
             'links': [{'rel': 'self', 'href': f'{base}/compute/v2/'}]},
            {'id': 'v2.1', 'status': 'CURRENT', 'version': NOVA_MAX, 'min_version': NOVA_MIN,
             'updated': '2013-07-23T11:33:21Z', 'links': [{'rel': 'self', 'href': f'{base}/compute/v2.1/'}]}]}, {}
    if path in ('/v2.1', '/v2.1/'):
        # versions.py VersionsV2.index (121-125) -> build_version.
        return 200, {'version': nova_version(base)}, {}
    token = h.require_token()
    version = parse_microversion(h)
    mv = f'{version[0]}.{version[1]}'
    # nova/api/openstack/wsgi.py Resource.__call__ (609-615) and Fault (921-928): every versioned
    # response, error or not, carries the microversion served and Vary on both headers.
    headers = {'OpenStack-API-Version': f'compute {mv}', 'X-OpenStack-Nova-API-Version': mv,
               'Vary': 'OpenStack-API-Version, X-OpenStack-Nova-API-Version'}
    user_id = token['user']['id']
    if version >= (2, 10) and 'user_id' in query:
        user_id = query['user_id'][0]
    mine = st.keypairs.setdefault(user_id, {})
    key_type = version >= (2, 2)
    try:
        if path == '/v2.1/os-keypairs' and method == 'GET':
            # compute/keypairs.py index (184-224) -> views/keypairs.py index: {"keypairs": [{"keypair": {...}}]}.
            fields = ('name', 'public_key', 'fingerprint') + (('type',) if key_type else ())
            return 200, {'keypairs': [{'keypair': {f: kp[f] for f in fields}} for kp in mine.values()]}, headers
        if path == '/v2.1/os-keypairs' and method == 'POST':
            return nova_create_keypair(st, body, user_id, version, key_type, headers, token)
        m = re.fullmatch(r'/v2.1/os-keypairs/([^/]+)', path)
        if m and method == 'GET':
            kp = mine.get(m.group(1))
            if kp is None:
                # keypairs.py _show (164-175): KeypairNotFound -> 404; nova/exception.py KeypairNotFound (1059-1060).
                raise nova_error(404, f'Keypair {m.group(1)} not found for user {user_id}')
            fields = ('name', 'public_key', 'fingerprint', 'user_id', 'created_at', 'deleted', 'deleted_at', 'id', 'updated_at')
            fields += ('type',) if key_type else ()
            # views/keypairs.py show: _show_params(_v2_2).
            return 200, {'keypair': {f: kp[f] for f in fields}}, headers
    except ApiError as err:
        err.headers.update(headers)
        raise
    err = nova_error(404, 'The resource could not be found.')
    err.headers.update(headers)
    raise err


def nova_create_keypair(st, body, user_id, version, key_type, headers, token):
    """compute/keypairs.py create (44-112): 200 up to 2.1, 201 from 2.2 (wsgi.response decorators
    44-45); KeyPairExists -> HTTPConflict with nova/exception.py KeyPairExists "Key pair '%(key_name)s'
    already exists." (1259-1260); view: views/keypairs.py create, _create_params (+type from 2.2)."""
    kp_in = (body or {}).get('keypair') or {}
    name = kp_in.get('name')
    if not name:
        raise nova_error(400, "Invalid input for field/attribute keypair. Value: None. 'name' is a required property")
    owner = kp_in.get('user_id', user_id) if version >= (2, 10) else user_id
    mine = st.keypairs.setdefault(owner, {})
    if name in mine:
        raise nova_error(409, f"Key pair '{name}' already exists.")
    public_key = kp_in.get('public_key')
    if not public_key:
        # Generating a private key is possible below 2.92; the stand-in does not do it.
        raise nova_error(400, 'The stand-in only imports public keys (public_key is required)')
    kp = {'name': name, 'public_key': public_key, 'fingerprint': fingerprint(public_key), 'user_id': owner,
          'type': kp_in.get('type', 'ssh'), 'created_at': now_iso().replace('Z', '.000000'), 'deleted': False,
          'deleted_at': None, 'id': len([k for u in st.keypairs.values() for k in u]) + 1, 'updated_at': None}
    mine[name] = kp
    fields = (('type',) if key_type else ()) + ('name', 'public_key', 'fingerprint', 'user_id')
    return (201 if version >= (2, 2) else 200), {'keypair': {f: kp[f] for f in fields}}, headers


# --- Neutron -------------------------------------------------------------------------------

IPV6_PROTOCOLS = ('ipv6-encap', 'ipv6-frag', 'ipv6-icmp', 'icmpv6', 'ipv6-nonxt', 'ipv6-opts', 'ipv6-route',
                  '41', '44', '58', '59', '60', '43')
PROTOCOL_NUMBERS = {'icmp': 1, 'tcp': 6, 'udp': 17, 'ipv6-icmp': 58, 'icmpv6': 58}


def neutron(h, method, path, query, body):
    st = h.server.state
    base = h.server.public_base
    if path in ('', '/') and method == 'GET':
        # neutron/pecan_wsgi/controllers/root.py RootController.index (59-69) with
        # neutron/api/views/versions.py build/generate_href (39-58): href ends in "v2.0/".
        return 200, {'versions': [{'id': 'v2.0', 'status': 'CURRENT', 'links': [{'rel': 'self', 'href': f'{base}/networking/v2.0/'}]}]}, {}
    token = h.require_token()
    project = token['project']['id']
    is_admin = 'admin' in token['user']['roles']
    if path == '/v2.0/extensions' and method == 'GET':
        # neutron/api/extensions.py ExtensionController.index: {"extensions": [...]}; only the aliases the client asks for.
        return 200, {'extensions': [{'alias': a, 'name': a, 'description': '', 'updated': '2013-01-01T10:00:00-00:00', 'links': []}
                                    for a in ('security-group', 'standard-attr-description', 'project-id')]}, {}
    if path == '/v2.0/security-groups' and method == 'GET':
        groups = [g for g in st.groups.values() if is_admin or g['project_id'] == project]
        groups = neutron_filter(groups, query)
        return 200, {'security_groups': [group_view(st, g) for g in groups]}, {}
    m = re.fullmatch(r'/v2.0/security-groups/([^/]+)', path)
    if m and method == 'GET':
        g = st.groups.get(m.group(1))
        if g is None or not (is_admin or g['project_id'] == project):
            # neutron/extensions/securitygroup.py SecurityGroupNotFound (113-114).
            raise neutron_error(404, 'SecurityGroupNotFound', f'Security group {m.group(1)} does not exist')
        return 200, {'security_group': group_view(st, g)}, {}
    if path == '/v2.0/security-group-rules' and method == 'GET':
        rules = [r for r in st.rules.values() if is_admin or r['project_id'] == project or st.groups[r['security_group_id']]['project_id'] == project]
        return 200, {'security_group_rules': neutron_filter(rules, query)}, {}
    if path == '/v2.0/security-group-rules' and method == 'POST':
        return 201, {'security_group_rule': create_rule(st, (body or {}).get('security_group_rule') or {}, project, is_admin)}, {}
    # neutron/pecan_wsgi: an unknown resource is a 404 (not read line by line).
    raise neutron_error(404, 'HTTPNotFound', 'The resource could not be found.')


def neutron_filter(items, query):
    """Neutron filters a list on any attribute given as a query parameter (neutron/api/api_common.py
    get_filters, 70); project_id and tenant_id are the same column. "fields" (a list of attribute names)
    is not a filter."""
    out = items
    for key, values in query.items():
        if key in ('fields', 'limit', 'marker', 'sort_key', 'sort_dir', 'page_reverse'):
            continue
        out = [i for i in out if str(i.get(key)) in values or (i.get(key) is None and 'None' in values)]
    return out


def group_view(st, g):
    """neutron/db/securitygroups_db.py _make_security_group_dict (364-373): the group with its rules."""
    out = dict(g)
    out['security_group_rules'] = [r for r in st.rules.values() if r['security_group_id'] == g['id']]
    return out


def create_rule(st, attrs, project, is_admin):
    """neutron/db/securitygroups_db.py create_security_group_rule: validation (_validate_security_group_rule,
    _validate_ethertype_and_protocol 820-840, port range), then _check_for_duplicate_rules (994-1013)
    comparing _rule_to_key (964-992): direction, ethertype, ports, protocol (by number), remote group,
    remote address group, remote prefix (0.0.0.0/0, ::/0 and none are the same) and group."""
    gid = attrs.get('security_group_id')
    g = st.groups.get(gid)
    if g is None or not (is_admin or g['project_id'] == project):
        raise neutron_error(404, 'SecurityGroupNotFound', f'Security group {gid} does not exist')
    rule = {'security_group_id': gid, 'direction': attrs.get('direction'), 'ethertype': attrs.get('ethertype', 'IPv4'),
            'protocol': attrs.get('protocol'), 'port_range_min': attrs.get('port_range_min'),
            'port_range_max': attrs.get('port_range_max'), 'remote_ip_prefix': attrs.get('remote_ip_prefix'),
            'remote_group_id': attrs.get('remote_group_id'), 'description': attrs.get('description', ''),
            # The rule belongs to the project asked for, else the caller's (neutron/api/v2/base.py
            # _populate_project_id fills project_id from the context when absent; not read line by line).
            'project_id': attrs.get('project_id') or attrs.get('tenant_id') or project}
    if rule['direction'] not in ('ingress', 'egress'):
        raise neutron_error(400, 'InvalidInput', f"Invalid input for direction. Reason: {rule['direction']} is not in valid_values.")
    if rule['ethertype'] == 'IPv4' and str(rule['protocol']) in IPV6_PROTOCOLS:
        # _validate_ethertype_and_protocol (820-840): SecurityGroupEthertypeConflictWithProtocol
        # (neutron/extensions/securitygroup.py 57-59).
        raise neutron_error(400, 'SecurityGroupEthertypeConflictWithProtocol',
                            f"Invalid ethertype {rule['ethertype']} for protocol {rule['protocol']}.")
    if rule['protocol'] in ('tcp', 'udp') and rule['port_range_min'] is not None and rule['port_range_max'] is not None \
            and int(rule['port_range_min']) > int(rule['port_range_max']):
        # SecurityGroupInvalidPortRange (neutron/extensions/securitygroup.py 38-40).
        raise neutron_error(400, 'SecurityGroupInvalidPortRange', 'For TCP/UDP protocols, port_range_min must be <= port_range_max')

    def key(r):
        def norm(k, v):
            if k == 'remote_ip_prefix':
                return '+' if v in ('0.0.0.0/0', '::/0', None) else str(v)
            if v is None:
                return '+'
            if k == 'protocol':
                return str(PROTOCOL_NUMBERS.get(str(v), v))
            return str(v)
        keys = ('direction', 'ethertype', 'port_range_max', 'port_range_min', 'protocol', 'remote_group_id',
                'remote_address_group_id', 'remote_ip_prefix', 'security_group_id')
        return '_'.join(norm(k, r.get(k)) for k in keys)

    for existing in st.rules.values():
        if existing['security_group_id'] == gid and key(existing) == key(rule):
            # SecurityGroupRuleExists(InUse) -> 409 (neutron/extensions/securitygroup.py 125-126).
            raise neutron_error(409, 'SecurityGroupRuleExists', f"Security group rule already exists. Rule id is {existing['id']}.")
    return st.add_rule(rule)


# --- HTTP plumbing -------------------------------------------------------------------------

SERVICES = [('/identity', keystone), ('/image', glance), ('/compute', nova), ('/networking', neutron)]


class Handler(BaseHTTPRequestHandler):
    # WSGI servers behind DevStack's Apache answer HTTP/1.1 with a Content-Length.
    protocol_version = 'HTTP/1.1'
    server_version = 'Apache'
    sys_version = ''

    def log_message(self, fmt, *args):
        if self.server.verbose:
            sys.stderr.write('%s %s\n' % (self.address_string(), fmt % args))

    def auth_token(self):
        return self.server.state.tokens.get(self.headers.get('X-Auth-Token', ''))

    def require_token(self):
        """keystonemiddleware auth_token rejects a request without a valid token with 401 (its
        _reject_request; keystonemiddleware not read here) before the service sees it."""
        token = self.auth_token()
        if token is None:
            raise unauthorized(self.server.public_base)
        return {'user': token['user'], 'project': token['project']}

    def read_body(self):
        if self.headers.get('Transfer-Encoding', '').lower() == 'chunked':
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b';')[0].strip() or b'0', 16)
                if size == 0:
                    while self.rfile.readline() not in (b'\r\n', b'\n', b''):
                        pass
                    return b''.join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get('Content-Length') or 0)
        return self.rfile.read(length) if length else b''

    def handle_any(self, method):
        url = urlsplit(self.path)
        query = parse_qs(url.query, keep_blank_values=True)
        raw = self.read_body()
        status, payload, headers, ctype = 500, None, {}, 'application/json'
        try:
            if url.path == '/__standin__/state':
                status, payload = 200, self.server.snapshot()
            elif url.path == '/__standin__/requests':
                status, payload = 200, {'requests': list(self.server.state.requests)}
            else:
                for prefix, service in SERVICES:
                    if url.path == prefix or url.path.startswith(prefix + '/'):
                        rest = url.path[len(prefix):]
                        with LOCK:
                            if service is glance:
                                status, payload, headers = service(self, method, rest, query, raw)
                            else:
                                body = json.loads(raw) if raw else None
                                status, payload, headers = service(self, method, rest, query, body)
                        break
                else:
                    status, payload, ctype = 404, '404 Not Found\n', 'text/plain'
        except ApiError as err:
            status, payload, headers, ctype = err.status, err.body, err.headers, err.content_type
        except Exception as err:  # a bug in the stand-in: say so loudly
            status, payload = 500, {'error': f'stand-in bug: {type(err).__name__}: {err}'}
            sys.stderr.write(f'stand-in bug on {method} {self.path}: {err!r}\n')
        if not url.path.startswith('/__standin__'):
            with LOCK:
                self.server.state.requests.append({'method': method, 'path': self.path, 'status': status})
        data = b'' if payload is None else (payload.encode() if isinstance(payload, str) else json.dumps(payload).encode())
        self.send_response(status)
        if payload is not None:
            self.send_header('Content-Type', ctype)
        self.send_header('Content-Length', str(len(data)))
        self.send_header('X-Openstack-Request-Id', 'req-' + str(uuid.uuid4()))
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()
        if method != 'HEAD':
            self.wfile.write(data)

    def do_GET(self):
        self.handle_any('GET')

    def do_POST(self):
        self.handle_any('POST')

    def do_PUT(self):
        self.handle_any('PUT')

    def do_DELETE(self):
        self.handle_any('DELETE')

    def do_HEAD(self):
        self.handle_any('HEAD')


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def snapshot(self):
        st = self.state
        with LOCK:
            projects = {p['id']: p['name'] for p in st.projects.values()}
            users = {u['id']: u['name'] for u in st.users.values()}
            return {
                'projects': projects,
                'users': users,
                'images': [dict(glance_view(i), data_sha256=hashlib.sha256(st.image_data.get(i['id'], b'')).hexdigest())
                           for i in st.images.values()],
                'keypairs': [dict(kp, user=users.get(uid)) for uid, kps in st.keypairs.items() for kp in kps.values()],
                'security_groups': [dict(group_view(st, g), project=projects.get(g['project_id'])) for g in st.groups.values()],
            }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--listen', default='127.0.0.1')
    ap.add_argument('--port', type=int, default=80)
    ap.add_argument('--public-host', required=True, help='host[:port] the catalog names (DevStack SERVICE_HOST)')
    ap.add_argument('--password', required=True, help='every user\'s password (DevStack ADMIN_PASSWORD)')
    ap.add_argument('--ready-file', help='written once the socket listens')
    ap.add_argument('--verbose', action='store_true')
    args = ap.parse_args()
    server = Server((args.listen, args.port), Handler)
    server.verbose = args.verbose
    server.public_base = f'http://{args.public_host}'
    server.state = State(args.password)
    server.state.public_base = server.public_base
    if args.ready_file:
        with open(args.ready_file, 'w') as f:
            f.write(f'{server.server_address[0]} {server.server_address[1]}\n')
    print(f'openstack-api stand-in listening on {args.listen}:{server.server_address[1]} as {server.public_base}', flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == '__main__':
    main()
