#!/usr/bin/env python3
"""
Regenerates test/fixtures/zuul/<job>/: build log roots shaped like real opendev builds of
devstack-multinode, tempest-multinode-full-py3 and grenade-multinode, made from the REAL job
definitions and nodesets, with each node's local_conf.txt rendered by the REAL DevStack Ansible
module (roles/write-devstack-local-conf/library/devstack_local_conf.py) on that node's variables.

What it does, per job:
  1. reads the job chain (job -> parent -> ...) from the upstream .zuul.yaml files and merges
     vars / group-vars / required-projects the way Zuul does (dicts deep-merged, child over parent);
  2. writes zuul-info/inventory.yaml as Zuul's executor does (keys sorted, like yaml.safe_dump),
     in the new layout (all.children.<group>.vars) or, for one job, the old one (groups at top
     level, no group vars: old Zuul had none, so the group-vars go to the members' host vars);
  3. per node: Ansible's variable precedence (all vars < group vars, alphabetical among groups <
     host vars), the Jinja templates rendered with Jinja2 (hostvars, groups, inventory_hostname,
     external_bridge_mtu), then LocalConf(...) from the upstream module -> <node>/logs/local_conf.txt
     (grenade: logs/old/ and logs/new/, as grenade's post playbook stores them);
  4. a few lines of job-output.txt and zuul-info/zuul-info.<node>.txt.

Usage: python3 scripts/dev/gen-zuul-fixtures.py --devstack DIR --grenade DIR --tempest DIR [--out DIR]
Each DIR is a git repository (a clone or a bare mirror) of the upstream project; the files are read
at HEAD with `git show`, so the commit they came from is exact (printed and recorded in README.md).
Needs python3 with PyYAML and Jinja2.
"""

import argparse
import copy
import hashlib
import json
import os
import subprocess
import sys

import jinja2
import jinja2.nativetypes
import yaml

# Placeholder data for what a real build has and the job definitions do not: node addresses,
# build/change ids, and the commits of projects whose trees are not at hand. All fixed, so the
# output is stable; README.md says which values are such placeholders.
BUILD_DATE = '2026-07-20'
NODES_NET = {
    'controller': {'private_ipv4': '10.209.33.17', 'public_ipv4': '104.130.127.18', 'interface_ip': '104.130.127.18'},
    'compute1': {'private_ipv4': '10.209.33.94', 'public_ipv4': '104.130.127.203', 'interface_ip': '104.130.127.203'},
}
# Interface MTUs on a gate node after the multi-node-bridge role (br-infra is the VXLAN bridge).
INTERFACE_MTUS = {'lo': 65536, 'ens3': 1500, 'br-infra': 1450}

# Required projects named without a host: which connection of OpenDev's Zuul holds them (assumed
# from where devstack clones it: NOVNC_REPO=https://github.com/novnc/novnc.git).
SHORT_NAME_HOSTS = {'novnc/novnc': 'github.com'}

JOBS = {
    'devstack-multinode': {
        'layout': 'new',
        'project': 'openstack/devstack',
        'items': [{'project': 'openstack/devstack', 'change': '951234', 'patchset': '2'}],
        'pipeline': 'check',
        'provider': 'rax-dfw',
    },
    'tempest-multinode-full-py3': {
        'layout': 'old',
        'project': 'openstack/tempest',
        # A Depends-On change ahead of the change under test (both in zuul.items).
        'items': [
            {'project': 'openstack/nova', 'change': '948811', 'patchset': '5'},
            {'project': 'openstack/tempest', 'change': '952077', 'patchset': '1'},
        ],
        'pipeline': 'check',
        'provider': 'ovh-gra1',
    },
    'grenade-multinode': {
        'layout': 'new',
        'project': 'openstack/grenade',
        'items': [{'project': 'openstack/grenade', 'change': '950500', 'patchset': '3'}],
        'pipeline': 'gate',
        'provider': 'rax-iad',
    },
}


def git_show(repo, path):
    return subprocess.run(['git', '--git-dir', git_dir(repo), 'show', f'HEAD:{path}'], check=True, capture_output=True, text=True).stdout


def git_dir(repo):
    return os.path.join(repo, '.git') if os.path.isdir(os.path.join(repo, '.git')) else repo


def git_head(repo):
    out = subprocess.run(['git', '--git-dir', git_dir(repo), 'log', '-1', '--format=%H%x00%s'], check=True, capture_output=True, text=True).stdout.strip()
    sha, subject = out.split('\0', 1)
    # The shared bundles name the upstream commit in the message ("... at <sha> (upstream snapshot ...)").
    words = subject.split()
    if ' at ' in subject and len(words) > 3:
        return words[words.index('at') + 1]
    return sha


def git_ls(repo, folder):
    out = subprocess.run(['git', '--git-dir', git_dir(repo), 'ls-tree', '--name-only', f'HEAD:{folder}'], check=True, capture_output=True, text=True).stdout
    return [f'{folder}/{n}' for n in out.split()]


def load_config(repo, paths, project):
    """Every job (with the project defining it) and nodeset defined in the given files, in file order."""
    jobs, nodesets = {}, {}
    for path in paths:
        for entry in yaml.safe_load(git_show(repo, path)) or []:
            if 'job' in entry:
                job = entry['job']
                branches = job.get('branches')
                # A variant limited to old stable branches does not apply to master.
                if isinstance(branches, dict) and not branches.get('negate'):
                    continue
                if isinstance(branches, (str, list)) and 'master' not in json.dumps(branches):
                    continue
                jobs.setdefault(job['name'], (job, f'{project}'))
            elif 'nodeset' in entry:
                nodesets.setdefault(entry['nodeset']['name'], entry['nodeset'])
    return jobs, nodesets


def deep_update(a, b):
    """Zuul's Job._deepUpdate: b over a, dicts merged recursively, parent's keys first."""
    out = copy.deepcopy(a)
    for k, v in (b or {}).items():
        if k in out and isinstance(out[k], dict) and isinstance(v, dict):
            out[k] = deep_update(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def resolve_job(name, jobs):
    chain, sources, external, run = [], [], None, None
    while name:
        if name not in jobs:
            external = name
            break
        job, path = jobs[name]
        chain.append(job)
        sources.append(path)
        if run is None and job.get('run'):
            # The run playbook and the project defining it (the job's own file's project).
            run = (job['run'] if isinstance(job['run'], str) else job['run'][0], path)
        name = job.get('parent')
    job_vars, group_vars, host_vars, required, nodeset = {}, {}, {}, [], None
    for job in reversed(chain):
        job_vars = deep_update(job_vars, job.get('vars'))
        group_vars = deep_update(group_vars, job.get('group-vars'))
        host_vars = deep_update(host_vars, job.get('host-vars'))
        for p in job.get('required-projects') or []:
            p = p if isinstance(p, str) else p['name']
            p = p if '.' in p.split('/')[0] else f'{SHORT_NAME_HOSTS.get(p, "opendev.org")}/{p}'
            if p not in required:
                required.append(p)
        nodeset = job.get('nodeset', nodeset)
    return {'vars': job_vars, 'group_vars': group_vars, 'host_vars': host_vars, 'required': required,
            'nodeset': nodeset, 'chain': [j['name'] for j in chain], 'external_parent': external, 'run': run}


def fake_sha(*parts):
    return hashlib.sha1('/'.join(parts).encode()).hexdigest()


def zuul_vars(job_name, spec, resolved, heads):
    change_item = spec['items'][-1]
    project_name = spec['project']
    canonicals = list(resolved['required'])
    for name in [project_name] + [i['project'] for i in spec['items']]:
        if f'opendev.org/{name}' not in canonicals:
            canonicals.append(f'opendev.org/{name}')
    projects = {}
    for canonical in canonicals:
        host, name = canonical.split('/', 1)
        changed = any(i['project'] == name for i in spec['items'])
        commit = fake_sha(job_name, name, 'speculative') if changed else heads.get(name) or fake_sha(job_name, name, 'master')
        projects[canonical] = {
            'canonical_hostname': host,
            'canonical_name': canonical,
            'checkout': 'master',
            'checkout_description': 'zuul branch',
            'commit': commit,
            'name': name,
            'required': canonical in resolved['required'],
            'short_name': name.split('/')[-1],
            'src_dir': f'src/{canonical}',
        }
    items = []
    for item in spec['items']:
        nn = item['change'][-2:]
        items.append({
            'branch': 'master',
            'change': item['change'],
            'change_message': f"Fixture change {item['change']}",
            'change_url': f"https://review.opendev.org/{item['change']}",
            'patchset': item['patchset'],
            'project': {
                'canonical_hostname': 'opendev.org',
                'canonical_name': f"opendev.org/{item['project']}",
                'name': item['project'],
                'short_name': item['project'].split('/')[-1],
                'src_dir': f"src/opendev.org/{item['project']}",
            },
            'topic': None,
            '_ref': f"refs/changes/{nn}/{item['change']}/{item['patchset']}",
        })
    refs = [i.pop('_ref') for i in items]
    project = projects[f'opendev.org/{project_name}']
    return {
        '_inheritance_path': [f'<Job {n} branches: None source: fixture>' for n in reversed(resolved['chain'])],
        'ansible_version': '9',
        'attempts': 1,
        'branch': 'master',
        'build': fake_sha(job_name, 'build')[:32],
        'buildset': fake_sha(job_name, 'buildset')[:32],
        'change': change_item['change'],
        'change_url': f"https://review.opendev.org/{change_item['change']}",
        'child_jobs': [],
        'event_id': fake_sha(job_name, 'event')[:32],
        'executor': {'hostname': 'ze04.opendev.org', 'inventory_file': '/var/lib/zuul/builds/x/ansible/inventory.yaml',
                     'log_root': '/var/lib/zuul/builds/x/work/logs', 'result_data_file': '/var/lib/zuul/builds/x/work/results.json',
                     'src_root': '/var/lib/zuul/builds/x/work/src', 'work_root': '/var/lib/zuul/builds/x/work'},
        'items': items,
        'job': job_name,
        'jobtags': [],
        'message': 'Rml4dHVyZSBjaGFuZ2U=',
        'patchset': change_item['patchset'],
        'pipeline': spec['pipeline'],
        'playbook_context': {},
        'post_review': spec['pipeline'] == 'gate',
        'project': {k: project[k] for k in ('canonical_hostname', 'canonical_name', 'name', 'short_name', 'src_dir')},
        'projects': projects,
        'ref': refs[-1],
        'resources': {},
        'tenant': 'openstack',
        'timeout': 10800,
        'topic': None,
        'voting': True,
    }


def host_entry(node, label, provider):
    net = NODES_NET[node]
    return {
        'ansible_connection': 'ssh',
        'ansible_host': net['interface_ip'],
        'ansible_port': 22,
        'ansible_python_interpreter': 'auto',
        'ansible_user': 'zuul',
        'nodepool': {
            'az': 'nova',
            'cloud': provider.split('-')[0],
            'external_id': fake_sha(node, 'external')[:8] + '-' + fake_sha(node, 'x')[:4],
            'host_id': fake_sha(node, 'host')[:56],
            'interface_ip': net['interface_ip'],
            'label': label,
            'private_ipv4': net['private_ipv4'],
            'private_ipv6': None,
            'provider': provider,
            'public_ipv4': net['public_ipv4'],
            'public_ipv6': '',
            'region': provider.split('-')[1].upper(),
            'slot': None,
        },
    }


def make_inventory(job_name, spec, resolved, nodesets, heads):
    nodeset = nodesets[resolved['nodeset']]
    nodes = [(n['name'], n['label']) for n in nodeset['nodes']]
    groups = {g['name']: list(g['nodes']) for g in nodeset.get('groups', [])}
    hosts = {}
    for name, label in nodes:
        hosts[name] = host_entry(name, label, spec['provider'])
        hosts[name].update(copy.deepcopy(resolved['host_vars'].get(name, {})))
    all_vars = copy.deepcopy(resolved['vars'])
    all_vars['zuul'] = zuul_vars(job_name, spec, resolved, heads)
    if spec['layout'] == 'new':
        children = {g: {'hosts': {n: None for n in members}, 'vars': copy.deepcopy(resolved['group_vars'].get(g, {}))}
                    for g, members in groups.items()}
        return {'all': {'children': children, 'hosts': hosts, 'vars': all_vars}}, groups
    # Old layout: top-level groups without vars; each group's vars become its members' host vars,
    # groups applied alphabetically (Ansible's order among groups of the same depth).
    for g in sorted(groups):
        for n in groups[g]:
            for k, v in resolved['group_vars'].get(g, {}).items():
                hosts[n][k] = copy.deepcopy(v)
    inv = {'all': {'hosts': hosts, 'vars': all_vars}}
    for g, members in groups.items():
        inv[g] = {'hosts': {n: None for n in members}}
    return inv, groups


def node_vars(inv, node):
    """Ansible's precedence for inventory variables: all < groups (alphabetical) < host."""
    out = dict(inv['all'].get('vars') or {})
    children = inv['all'].get('children') or {}
    for g in sorted(children):
        if node in (children[g].get('hosts') or {}):
            out.update(children[g].get('vars') or {})
    out.update({k: v for k, v in inv['all']['hosts'][node].items()})
    return out


def combine(a, b):
    out = dict(a)
    out.update(b)
    return out


def render_all(variables, context):
    """Ansible-style lazy templating: every string holding '{{' rendered until nothing changes."""
    env = jinja2.nativetypes.NativeEnvironment(undefined=jinja2.StrictUndefined)
    env.filters['combine'] = combine

    def render(value, ctx):
        if isinstance(value, str) and '{{' in value:
            result = env.from_string(value).render(ctx)
            # Non-native Jinja (Ansible's default) yields text, except a whole expression that is
            # a dict or list (Ansible turns it back into one).
            return result if isinstance(result, (dict, list)) else str(result)
        if isinstance(value, dict):
            return {k: render(v, ctx) for k, v in value.items()}
        if isinstance(value, list):
            return [render(v, ctx) for v in value]
        return value

    current = variables
    for _ in range(5):
        ctx = dict(context)
        ctx.update(current)
        rendered = {k: render(v, ctx) for k, v in current.items()}
        if rendered == current:
            break
        current = rendered
    return current


def local_conf(module, v, base_dir, localrc):
    lc = module.LocalConf(localrc, v.get('devstack_local_conf'), v.get('devstack_base_services', v.get('enabled_services')),
                          copy.deepcopy(v.get('devstack_services')), v.get('devstack_plugins'), base_dir,
                          v['zuul']['projects'], v['zuul']['project'], v.get('tempest_plugins'))
    return lc


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'w') as f:
        f.write(text)


def job_output(job_name, spec, resolved, nodes):
    t = f'{BUILD_DATE} 09:1'
    lines = [
        f'{t}0:02.118034 | Job console starting',
        f'{t}0:02.203211 | Updating git repos for {spec["project"]}',
        f'{t}0:07.941520 | Preparing job workspace',
        f'{t}0:08.002170 | Running Ansible setup',
        f'{t}0:11.534801 | PRE-RUN START: [trusted : opendev.org/opendev/base-jobs/playbooks/base/pre.yaml@master]',
        f'{t}0:12.871003 | ',
        f'{t}0:12.871201 | PLAY [localhost]',
        f'{t}0:13.010411 | ',
        f'{t}0:13.010620 | TASK [log-inventory : Ensure Zuul Ansible directory exists]',
        f'{t}0:13.402177 | localhost | ok',
    ]
    for n in nodes:
        lines.append(f'{t}0:15.{len(lines):06d} | {n} | ok: Runtime: 0:00:00.004512')
    playbook, repo = resolved['run']
    lines.append(f'{t}9:41.220184 | RUN END RESULT_NORMAL: [untrusted : opendev.org/{repo}/{playbook}@master]')
    return '\n'.join(lines) + '\n'


def zuul_info(node, label):
    distro = {'ubuntu-noble': ('Ubuntu', '24.04', 'noble', '6.8.0-71-generic'),
              'ubuntu-jammy': ('Ubuntu', '22.04', 'jammy', '5.15.0-143-generic')}[label]
    net = NODES_NET[node]
    return '\n'.join([
        'Image Information',
        '=================',
        f'{distro[0]} {distro[1]} ({distro[2]}) built by nodepool-builder from diskimage-builder element {label}',
        '',
        'Host & kernel',
        '=============',
        f'Linux {node} {distro[3]} #74-{distro[0]} SMP PREEMPT_DYNAMIC x86_64 x86_64 x86_64 GNU/Linux',
        '',
        'Network interfaces',
        '==================',
        f'1: lo: <LOOPBACK,UP,LOWER_UP> mtu {INTERFACE_MTUS["lo"]} qdisc noqueue state UNKNOWN',
        '    inet 127.0.0.1/8 scope host lo',
        f'2: ens3: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu {INTERFACE_MTUS["ens3"]} qdisc fq_codel state UP',
        f'    inet {net["private_ipv4"]}/19 brd 10.209.63.255 scope global ens3',
        '',
        'Network routes',
        '==============',
        'default via 10.209.32.1 dev ens3 proto dhcp src ' + net['private_ipv4'] + ' metric 100',
        '',
        'Traceroute',
        '==========',
        'traceroute to opendev.org (38.108.68.124), 30 hops max, 60 byte packets',
        ' 1  10.209.32.1  0.512 ms  0.498 ms  0.470 ms',
        '',
    ])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--devstack', required=True)
    ap.add_argument('--grenade', required=True)
    ap.add_argument('--tempest', required=True)
    ap.add_argument('--out', default=os.path.join(os.path.dirname(__file__), '..', '..', 'test', 'fixtures', 'zuul'))
    args = ap.parse_args()

    # Import the real module from the devstack tree (it imports Ansible only under __main__).
    tmp = os.path.join(os.environ.get('TMPDIR', '/tmp'), f'gen-zuul-fixtures-{os.getpid()}')
    os.makedirs(tmp, exist_ok=True)
    with open(os.path.join(tmp, 'devstack_local_conf.py'), 'w') as f:
        f.write(git_show(args.devstack, 'roles/write-devstack-local-conf/library/devstack_local_conf.py'))
    sys.path.insert(0, tmp)
    import devstack_local_conf as module  # noqa: E402
    # The gate's base_dir holds the plugins' trees (read for plugin_requires); none are here, and the
    # jobs below enable one plugin each, so there is no order to take from them.
    module.PluginGraph.loadPluginNames = lambda self, base_dir: None

    heads = {'openstack/devstack': git_head(args.devstack), 'openstack/grenade': git_head(args.grenade), 'openstack/tempest': git_head(args.tempest)}
    d_jobs, d_nodesets = load_config(args.devstack, ['.zuul.yaml'], 'openstack/devstack')
    t_jobs, _ = load_config(args.tempest, git_ls(args.tempest, 'zuul.d'), 'openstack/tempest')
    g_jobs, _ = load_config(args.grenade, ['.zuul.yaml'], 'openstack/grenade')
    jobs = {}
    for table in (d_jobs, t_jobs, g_jobs):
        for k, v in table.items():
            jobs.setdefault(k, v)

    report = {'commits': heads, 'jobs': {}}
    for job_name, spec in JOBS.items():
        resolved = resolve_job(job_name, jobs)
        inv, groups = make_inventory(job_name, spec, resolved, d_nodesets, heads)
        root = os.path.join(args.out, job_name)
        text = yaml.safe_dump(inv, default_flow_style=False)
        write(os.path.join(root, 'zuul-info', 'inventory.yaml'), text)
        # What Ansible reads is the file: key order as written (sorted), so read it back.
        inv = yaml.safe_load(text)
        hosts = inv['all']['hosts']
        groups_ctx = dict(groups)
        groups_ctx['all'] = list(hosts)
        mtu = min(INTERFACE_MTUS.values()) - 30 - 40
        for node in hosts:
            raw = node_vars(inv, node)
            hostvars = {n: node_vars(inv, n) for n in hosts}
            context = {'hostvars': hostvars, 'groups': groups_ctx, 'inventory_hostname': node, 'external_bridge_mtu': str(mtu)}
            v = render_all(raw, context)
            v.setdefault('external_bridge_mtu', str(mtu))
            if job_name.startswith('grenade'):
                # grenade's playbooks/pre.yaml: the role runs twice with devstack_localrc and
                # devstack_base_dir as role parameters (the highest precedence here).
                ctx = dict(context)
                ctx.update(v)
                for side in ('old', 'new'):
                    localrc = combine(v['grenade_devstack_localrc']['shared'], v['grenade_devstack_localrc'][side])
                    lc = local_conf(module, v, v['devstack_bases'][side], localrc)
                    path = os.path.join(root, node, 'logs', side, 'local_conf.txt')
                    os.makedirs(os.path.dirname(path), exist_ok=True)
                    lc.write(path)
            else:
                lc = local_conf(module, v, '/opt/stack', v.get('devstack_localrc'))
                path = os.path.join(root, node, 'logs', 'local_conf.txt')
                os.makedirs(os.path.dirname(path), exist_ok=True)
                lc.write(path)
            write(os.path.join(root, 'zuul-info', f'zuul-info.{node}.txt'), zuul_info(node, hosts[node]['nodepool']['label']))
        write(os.path.join(root, 'job-output.txt'), job_output(job_name, spec, resolved, list(hosts)))
        report['jobs'][job_name] = {'chain': resolved['chain'], 'external_parent': resolved['external_parent'], 'nodeset': resolved['nodeset'], 'layout': spec['layout']}
    print(json.dumps(report, indent=2))


if __name__ == '__main__':
    main()
