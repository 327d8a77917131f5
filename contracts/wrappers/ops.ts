// Op codes and exit codes of the cocoon contracts (the same numbers as src/messages.tolk and
// src/errors.tolk; the tests check a few of them against the compiled code's behaviour).

export const Op = {
    charge: 0xbb63ff93,
    grantRefund: 0xefd711e1,
    workerPayout: 0xa040ad28,
    clientTopUp: 0xf172e6c2,
    clientIncreaseStake: 0x6a1f6a60,
    clientWithdraw: 0xda068e78,
    clientRequestRefund: 0xfafa6cc1,
    clientForceRefund: 0x3c9a1e55,
    chargeNotification: 0x7a3c0f11,
    payoutRequest: 0x4f9e2b07,
    excesses: 0x2565934c,
    workerPaid: 0x5fe1d0a3,
    clientRefunded: 0x1b6e0f4d,
    proxyInit: 0x0d1a7e3b,
    proxyIncreaseStake: 0x9713f187,
    proxyWithdrawCommission: 0x6c1f2a9d,
    proxySaveState: 0x53109c0f,
    proxyStartClose: 0x8e0b3c41,
    proxyFinishClose: 0x2e7d59c6,
    registerProxy: 0x5a0c8d2f,
    unregisterProxy: 0x71b4e6a8,
    updateParams: 0x1e3f7c90,
    updateAllowlist: 0x4b5d9e12,
    changeOwner: 0x0f6c3a27,
} as const;

export const Err = {
    wrongSender: 100,
    badSignature: 101,
    wrongAddress: 102,
    notGrowing: 103,
    opMismatch: 104,
    lowValue: 105,
    insufficient: 106,
    wrongState: 107,
    tooEarly: 108,
    stakeTooLow: 109,
    badParams: 110,
    unknownProxy: 111,
    wrongWorkchain: 112,
    zeroAmount: 113,
    badList: 114,
    staleAnchor: 115,
    badEndpoints: 116,
    unknownOp: 0xffff,
} as const;

export const State = { normal: 0, closing: 1, closed: 2 } as const;

export const AllowList = { proxyImages: 1, workerImages: 2, models: 3 } as const;

/** Value each operation must carry (src/gas.tolk). */
export const Gas = {
    depositFee: 10_000_000n,
    signedOp: 50_000_000n,
    simpleOp: 20_000_000n,
    register: 50_000_000n,
    notify: 20_000_000n,
} as const;
