/**
 * The technician's users page (as `schoolgate users list|add|remove`) and networks page (as `schoolgate
 * networks ...` and `devices ...`): each calls the function the CLI command calls (src/identity/user-admin.ts,
 * address-admin.ts) with the signed-in person as the "by" and the form's reason, so each change is in the
 * admin-changes record; a network or device change reloads the running proxy, a user change tells it at
 * once (as the CLI does). A password is never put back into a page.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import {
  addDevice,
  addNetwork,
  listDevices,
  listNetworks,
  removeDevice,
  removeNetwork,
} from '../../identity/address-admin.js';
import { addUser, listUsers, removeUser, tellRunningProxy } from '../../identity/user-admin.js';
import { html, type SafeHtml } from '../../proxy/pages/html.js';
import { byOf } from '../access.js';
import { csrfField, guard, sendPage, viewerOf, type ConsoleContext } from '../context.js';
import { back, doneNote, field, optional, reasonOf, tableOf } from '../pages/forms.js';

/** A one-button form that removes `key` (named by `name`), with its own reason field. */
function removeForm(action: string, name: string, key: string, csrf: string, id: string): SafeHtml {
  return html`<form method="post" action="${action}">
    ${csrfField(csrf)}
    <input type="hidden" name="${name}" value="${key}" />
    <label for="why-${id}">Why</label><input id="why-${id}" name="reason" type="text" required />
    <button type="submit">Remove ${key}</button>
  </form>`;
}

/** A stable, attribute-safe id for a row's form fields. */
const idFor = (prefix: string, i: number) => `${prefix}-${String(i)}`;

export function usersNetworksRoutes(app: FastifyInstance, ctx: ConsoleContext): void {
  const only = (command: string) => guard(ctx, ['technician'], command);
  const post = (command: string) => ({ preHandler: [app.csrfProtection, only(command)] });
  /** The record's who and why for a change posted by the signed-in person. */
  const whoOf = (req: FastifyRequest) => ({ reason: reasonOf(req.body), by: byOf(req.consoleSession!) });
  const profileOptions = () =>
    Object.keys(ctx.config.profiles).map((p) => html`<option value="${p}">${p}</option>`);

  app.get('/users', { preHandler: only('users list') }, async (req, reply) => {
    const viewer = viewerOf(req.consoleSession!, reply);
    const users = await listUsers(ctx.config);
    const table =
      users.length === 0
        ? html`<p>No users.</p>`
        : tableOf(
            ['Name', 'Display name', 'Profile', 'State', 'Password', 'Remove'],
            users.map(
              (u, i) =>
                html`<tr>
                  <td>${u.name}</td>
                  <td>${u.displayName}</td>
                  <td>${u.profile}</td>
                  <td>${u.disabled ? 'disabled' : 'enabled'}</td>
                  <td>${u.hasPassword ? 'set' : 'none'}</td>
                  <td>${removeForm('/users/remove', 'name', u.name, viewer.csrf, idFor('user', i))}</td>
                </tr>`,
            ),
          );
    return sendPage(
      reply,
      200,
      'Users',
      html`${doneNote(req.query)}
        <p>The users proxy sign-in (Basic authentication) checks; a change applies at once.</p>
        ${table}
        <h2>Add a user</h2>
        <form method="post" action="/users/add" autocomplete="off">
          ${csrfField(viewer.csrf)}
          <label for="name">User name (as typed at the browser prompt)</label
          ><input id="name" name="name" type="text" required />
          <label for="display">Display name (for reports)</label
          ><input id="display" name="displayName" type="text" />
          <label for="profile">Profile</label>
          <select id="profile" name="profile">
            ${profileOptions()}
          </select>
          <label for="password">Password (optional; never shown again)</label
          ><input id="password" name="password" type="password" autocomplete="new-password" />
          <label for="reason">Reason (recorded)</label
          ><input id="reason" name="reason" type="text" required />
          <button type="submit">Add the user</button>
        </form>`,
      viewer,
    );
  });

  app.post('/users/add', post('users add'), async (req, reply) => {
    // The password is taken as typed (spaces count) and never put in a page or a record.
    const raw = (req.body as Record<string, unknown>).password;
    const password = typeof raw === 'string' && raw !== '' ? raw : undefined;
    const u = await addUser(
      ctx.config,
      {
        name: field(req.body, 'name'),
        profile: field(req.body, 'profile'),
        displayName: optional(req.body, 'displayName'),
        password,
      },
      whoOf(req),
    );
    await tellRunningProxy(ctx.config.dataDir);
    return back(
      reply,
      '/users',
      `added user ${u.name} (profile ${u.profile}${u.hasPassword ? ', password set' : ', no password'})`,
    );
  });

  app.post('/users/remove', post('users remove'), async (req, reply) => {
    const name = field(req.body, 'name');
    const { revoked } = await removeUser(ctx.config, name, whoOf(req));
    return back(
      reply,
      '/users',
      `removed user ${name}${revoked > 0 ? '; the running proxy closed their open connections' : ''}`,
    );
  });

  app.get('/networks', { preHandler: only('networks list') }, async (req, reply) => {
    const viewer = viewerOf(req.consoleSession!, reply);
    const [networks, devices] = [await listNetworks(ctx.config), await listDevices(ctx.config)];
    const fromConfig = html`<span class="note">in the config file</span>`;
    return sendPage(
      reply,
      200,
      'Networks and devices',
      html`${doneNote(req.query)}
        <h2>Networks</h2>
        <p>The profile a client in each network gets when it is not signed in.</p>
        ${
          networks.length === 0
            ? html`<p>No networks.</p>`
            : tableOf(
                ['Network', 'Profile', 'Name', 'From', 'Remove'],
                networks.map(
                  (n, i) =>
                    html`<tr>
                      <td>${n.cidr}</td>
                      <td>${n.profile}</td>
                      <td>${n.name ?? ''}</td>
                      <td>${n.source}</td>
                      <td>
                        ${
                          n.source === 'cli'
                            ? removeForm('/networks/remove', 'cidr', n.cidr, viewer.csrf, idFor('net', i))
                            : fromConfig
                        }
                      </td>
                    </tr>`,
                ),
              )
        }
        <h3>Add a network</h3>
        <form method="post" action="/networks/add">
          ${csrfField(viewer.csrf)}
          <label for="cidr">Network (CIDR, e.g. 10.20.0.0/16)</label
          ><input id="cidr" name="cidr" type="text" required />
          <label for="net-profile">Profile</label>
          <select id="net-profile" name="profile">
            ${profileOptions()}
          </select>
          <label for="net-name">Name (e.g. Library PCs)</label><input id="net-name" name="name" type="text" />
          <label for="net-reason">Reason (recorded)</label
          ><input id="net-reason" name="reason" type="text" required />
          <button type="submit">Add the network</button>
        </form>
        <h2>Devices</h2>
        <p>Fixed addresses that stand for a user or a profile.</p>
        ${
          devices.length === 0
            ? html`<p>No devices.</p>`
            : tableOf(
                ['Address', 'Name', 'User', 'Profile', 'From', 'Remove'],
                devices.map(
                  (d, i) =>
                    html`<tr>
                      <td>${d.address}</td>
                      <td>${d.name}</td>
                      <td>${d.user ?? '-'}</td>
                      <td>${d.profile ?? '-'}</td>
                      <td>${d.source}</td>
                      <td>
                        ${
                          d.source === 'cli'
                            ? removeForm(
                                '/devices/remove',
                                'address',
                                d.address,
                                viewer.csrf,
                                idFor('dev', i),
                              )
                            : fromConfig
                        }
                      </td>
                    </tr>`,
                ),
              )
        }
        <h3>Add a device</h3>
        <form method="post" action="/devices/add">
          ${csrfField(viewer.csrf)}
          <label for="address">Address (e.g. 10.20.3.17)</label
          ><input id="address" name="address" type="text" required />
          <label for="dev-name">Name (e.g. J Smith laptop)</label
          ><input id="dev-name" name="name" type="text" required />
          <label for="dev-user">User it belongs to (optional)</label
          ><input id="dev-user" name="user" type="text" />
          <label for="dev-profile">Profile (optional: else the user’s, else the network’s)</label>
          <select id="dev-profile" name="profile">
            <option value="">(none)</option>
            ${profileOptions()}
          </select>
          <label for="dev-reason">Reason (recorded)</label
          ><input id="dev-reason" name="reason" type="text" required />
          <button type="submit">Add the device</button>
        </form>`,
      viewer,
    );
  });

  app.post('/networks/add', post('networks add'), async (req, reply) => {
    const who = whoOf(req);
    const n = await addNetwork(
      ctx.config,
      {
        cidr: field(req.body, 'cidr'),
        profile: field(req.body, 'profile'),
        name: optional(req.body, 'name'),
      },
      who,
    );
    await ctx.reload();
    return back(reply, '/networks', `network ${n.cidr} → profile ${n.profile}`);
  });

  app.post('/networks/remove', post('networks remove'), async (req, reply) => {
    const who = whoOf(req);
    const n = await removeNetwork(ctx.config, field(req.body, 'cidr'), who);
    await ctx.reload();
    return back(reply, '/networks', `removed network ${n.cidr}`);
  });

  app.post('/devices/add', post('devices add'), async (req, reply) => {
    const who = whoOf(req);
    const d = await addDevice(
      ctx.config,
      {
        address: field(req.body, 'address'),
        name: field(req.body, 'name'),
        user: optional(req.body, 'user'),
        profile: optional(req.body, 'profile'),
      },
      who,
    );
    await ctx.reload();
    return back(reply, '/networks', `device ${d.address} (${d.name})`);
  });

  app.post('/devices/remove', post('devices remove'), async (req, reply) => {
    const who = whoOf(req);
    const d = await removeDevice(ctx.config, field(req.body, 'address'), who);
    await ctx.reload();
    return back(reply, '/networks', `removed device ${d.address}`);
  });
}
