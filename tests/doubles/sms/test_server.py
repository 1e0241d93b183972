"""The Tencent Cloud SMS double through the real SDK (tencentcloud-sdk-python-sms) over loopback HTTP: the TC3
signature is checked, templates and signature name are known, numbers are throttled per 30 s."""
import pytest
from tencentcloud.common import credential
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.sms.v20210111 import models, sms_client

from doubles.sms import SmsDouble


@pytest.fixture
def double():
    double = SmsDouble(secret_id="AKIDtest", secret_key="key1", sdk_app_id="1400009999", sign_name="南县",
                       template_ids=("200001",)).start()
    yield double
    double.stop()


def _send(double, phone="+8613800138000", secret_key="key1", template="200001", sign="南县", params=("新派单",)):
    client = sms_client.SmsClient(credential.Credential("AKIDtest", secret_key), "ap-guangzhou",
                                  ClientProfile(httpProfile=HttpProfile(protocol="http", endpoint=double.endpoint)))
    request = models.SendSmsRequest()
    request.PhoneNumberSet, request.SmsSdkAppId, request.SignName = [phone], "1400009999", sign
    request.TemplateId, request.TemplateParamSet = template, list(params)
    return client.SendSms(request)


def test_a_message_is_delivered_with_its_template_and_params(double):
    status = _send(double).SendStatusSet[0]
    assert (status.Code, status.PhoneNumber) == ("Ok", "+8613800138000") and status.SerialNo
    assert double.messages() == [{"phone": "+8613800138000", "template_id": "200001", "params": ["新派单"],
                                  "sign_name": "南县"}]


def test_a_wrong_secret_fails_the_tc3_signature(double):
    with pytest.raises(TencentCloudSDKException) as excinfo:
        _send(double, secret_key="wrong")
    assert excinfo.value.get_code() == "AuthFailure.SignatureFailure"
    assert double.messages() == []


@pytest.mark.parametrize("kwargs, code", [
    ({"template": "999"}, "FailedOperation.TemplateIncorrectOrUnapproved"),
    ({"sign": "别的签名"}, "FailedOperation.SignatureIncorrectOrUnapproved"),
    ({"params": ("超过十二个字的模板变量内容呀",)}, "InvalidParameterValue.TemplateParameterLengthLimit"),
])
def test_unapproved_templates_signatures_and_long_params_are_refused(double, kwargs, code):
    with pytest.raises(TencentCloudSDKException) as excinfo:
        _send(double, **kwargs)
    assert excinfo.value.get_code() == code


def test_one_number_gets_one_message_per_30_seconds(double):
    assert _send(double).SendStatusSet[0].Code == "Ok"
    assert _send(double).SendStatusSet[0].Code == "LimitExceeded.PhoneNumberThirtySecondLimit"
    assert _send(double, phone="+8613900139000").SendStatusSet[0].Code == "Ok"
    assert _send(double, phone="13900").SendStatusSet[0].Code == "InvalidParameterValue.IncorrectPhoneNumber"
    assert len(double.messages()) == 2 and len(double.calls("SendSms")) == 4


def test_forced_request_errors_and_per_number_codes(double):
    double.force(errcode="RequestLimitExceeded")
    double.force(code="LimitExceeded.PhoneNumberOneHourLimit")
    with pytest.raises(TencentCloudSDKException) as excinfo:
        _send(double)
    assert excinfo.value.get_code() == "RequestLimitExceeded"
    assert _send(double).SendStatusSet[0].Code == "LimitExceeded.PhoneNumberOneHourLimit"
    assert _send(double).SendStatusSet[0].Code == "Ok"
