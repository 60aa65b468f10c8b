/**
 * tls-ca, on the computes at once, only with tls-proxy: the controller's CA (DATA_DIR/ca-bundle.pem
 * and CA/) copied over before they stack, so their services trust the controller's endpoints.
 */
import { StepCommandError } from '../../errors.js';
import { check, DATA_DIR, defineStep, WORK_DIR } from './step.js';

export const tlsCa = defineStep({
  name: 'tls-ca',
  targets: 'computes',
  parallel: true,
  enabled: (plan) => plan.devstack.services.controller.includes('tls-proxy'),
  run: async (r, { controller, sessionFor }) => {
    const source = await sessionFor(controller.name, r.ctx);
    const tar = await source.run(`tar -C ${DATA_DIR} -cf - ca-bundle.pem CA`, { signal: r.ctx.signal, what: "pack the controller's CA", binaryStdout: true, logFile: r.logFile });
    if (tar.code !== 0 || !tar.stdoutBytes) throw new StepCommandError(tar.code, tar.tail, `could not read ${DATA_DIR}/ca-bundle.pem and CA/ on ${controller.name}`);
    await r.session.upload({ data: tar.stdoutBytes }, `${WORK_DIR}/ca.tar`, { mode: 0o600, signal: r.ctx.signal });
    await check(r, `mkdir -p ${DATA_DIR} && tar -C ${DATA_DIR} -xf ${WORK_DIR}/ca.tar && rm -f ${WORK_DIR}/ca.tar`, "install the controller's CA");
  },
});
